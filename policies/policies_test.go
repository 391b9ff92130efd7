package policies

import "testing"

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
		if p.Stamp() != name+"@1" {
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
