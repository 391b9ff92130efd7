package policies

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

func TestShippedPoliciesValidate(t *testing.T) {
	want := map[string][]string{
		"domestic":      {"green", "yellow", "red"},
		"international": {"green", "yellow", "orange"},
		"tianjin":       {"green", "orange", "red"},
	}
	if got := Names(); len(got) != len(want) {
		t.Fatalf("shipped %v, want %d policies", got, len(want))
	}
	for name, colours := range want {
		p, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := map[string]string{"international": "@2"}[name]; p.Stamp() != name+max(want, "@1") {
			t.Errorf("%s: stamp %q", name, p.Stamp())
		}
		for i, c := range colours {
			if p.Colours[i] != c {
				t.Errorf("%s: colour %d = %q, want %q", name, i, p.Colours[i], c)
			}
		}
	}
}

func TestLoadUnknown(t *testing.T) {
	if _, err := Load("nowhere"); err == nil {
		t.Fatal("loading an unshipped policy succeeded")
	}
}

// errFS fails every listing, as a broken embed would.
type errFS struct{ fs.ReadDirFS }

func (errFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, fs.ErrNotExist }

func TestNames_ListingFails(t *testing.T) {
	if got, err := names(errFS{}); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("names of a failing file system = %v, %v; want the error", got, err)
	}
	got, err := names(fstest.MapFS{"b.json": {}, "a.json": {}, "README": {}})
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("names = %v, %v; want [a b]", got, err)
	}
}
