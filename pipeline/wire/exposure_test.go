package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

func sampleExposure(t *testing.T) Exposure {
	t.Helper()
	x := tracing.Exposure{Exposed: scoring.PersonKey{1}, Source: scoring.PersonKey{2}, Kind: scoring.ExposureSecondary,
		Place: "f:CA936/2020-03-16", Start: scoring.MustTime("2020-03-16T10:00:00+08:00"), End: scoring.MustTime("2020-03-16T11:00:00+08:00"),
		At: scoring.MustTime("2020-03-16T11:00:00+08:00"), ID: "exp-9", Version: 3, Evidence: []string{"pcr-1", "chk-7"}}
	rec, err := NewExposure(&x)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestNewExposure(t *testing.T) {
	rec := sampleExposure(t)
	if rec.Kind != "secondary_contact" || rec.Source != (scoring.PersonKey{2}).String() || rec.OverlapEnd-rec.OverlapStart != 3600 ||
		rec.Version != 3 || len(rec.Evidence) != 2 {
		t.Errorf("record = %+v", rec)
	}
	x := tracing.Exposure{Exposed: scoring.PersonKey{1}, ID: "exp-1"}
	if _, err := NewExposure(&x); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// The golden file is the record as it goes on hc.exposures.
func TestEncodeExposure_Golden(t *testing.T) {
	rec := sampleExposure(t)
	b, err := EncodeExposure(&rec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "exposure-v1.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, golden) {
		t.Errorf("EncodeExposure differs from %s:\n got %s\nwant %s", path, b, golden)
	}
	got, err := DecodeExposure(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || got.Version != rec.Version || got.Exposed != rec.Exposed || len(got.Evidence) != 2 {
		t.Errorf("golden file decodes to %+v", got)
	}
}

func TestDecodeExposure_Refuses(t *testing.T) {
	key := strings.Repeat("a", 32)
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `{"exposure_id":`, "decode exposure"},
		{"short key", `{"exposure_id":"e","exposed_key":"abc","kind":"companion"}`, "32 lowercase hex"},
		{"upper-case key", `{"exposure_id":"e","exposed_key":"` + strings.Repeat("A", 32) + `","kind":"companion"}`, "32 lowercase hex"},
		{"bad source", `{"exposure_id":"e","exposed_key":"` + key + `","source_key":"zz","kind":"companion"}`, "32 lowercase hex"},
		{"unknown kind", `{"exposure_id":"e","exposed_key":"` + key + `","kind":"hug"}`, "not an exposure kind"},
		{"no id", `{"exposed_key":"` + key + `","kind":"companion"}`, "id is empty"},
	} {
		if _, err := DecodeExposure([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzDecodeExposure(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "exposure-v1.json"))
	if err == nil {
		f.Add(golden)
	}
	f.Add([]byte(`{"exposure_id":"e","exposed_key":"` + strings.Repeat("0", 32) + `","kind":"area_high","retracted":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeExposure(b)
		if err != nil {
			return
		}
		// What decodes is valid, and encodes and decodes to itself.
		out, err := EncodeExposure(&x)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		y, err := DecodeExposure(out)
		if err != nil || y.ID != x.ID || y.Version != x.Version || y.Kind != x.Kind {
			t.Fatalf("round trip: %+v, %v", y, err)
		}
	})
}
