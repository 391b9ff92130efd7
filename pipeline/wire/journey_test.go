package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleJourney() Journey {
	return Journey{PersonKey: strings.Repeat("0a", 16), JourneyID: "decl-7", Version: 3, Status: "landed",
		EffectiveAt: 1584324000, OriginCountry: "DEU", OriginCity: "Frankfurt", Flights: []string{"MU588/2020-03-15"},
		PortOfEntry: "PVG", DestinationRegion: "330102", PlannedArrival: 1584320400, DeclaredAt: 1584000000,
		LandedAt: 1584324000, LandedPort: "PVG", LandedFlight: "MU588/2020-03-15"}
}

// The golden file is the record as it goes on hc.journeys.
func TestEncodeJourney_Golden(t *testing.T) {
	j := sampleJourney()
	b, err := EncodeJourney(&j)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "journey-v1.json")
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
		t.Errorf("EncodeJourney differs from %s:\n got %s\nwant %s", path, b, golden)
	}
	got, err := DecodeJourney(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "landed" || got.Version != 3 || len(got.Flights) != 1 || got.LandedPort != "PVG" {
		t.Errorf("golden file decodes to %+v", got)
	}
}

func TestDecodeJourney_Refuses(t *testing.T) {
	key := strings.Repeat("a", 32)
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", `{"person_key":`, "decode journey"},
		{"short key", `{"person_key":"abc","journey_id":"d","status":"declared"}`, "32 lowercase hex"},
		{"unknown status", `{"person_key":"` + key + `","journey_id":"d","status":"lost"}`, "not a journey status"},
		{"no id", `{"person_key":"` + key + `","status":"declared"}`, "id is empty"},
	} {
		if _, err := DecodeJourney([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzDecodeJourney(f *testing.F) {
	if golden, err := os.ReadFile(filepath.Join("testdata", "journey-v1.json")); err == nil {
		f.Add(golden)
	}
	f.Add([]byte(`{"person_key":"` + strings.Repeat("0", 32) + `","journey_id":"d","status":"released","flights":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeJourney(b)
		if err != nil {
			return
		}
		out, err := EncodeJourney(&j)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		k, err := DecodeJourney(out)
		if err != nil || k.PersonKey != j.PersonKey || k.Version != j.Version || k.Status != j.Status {
			t.Fatalf("round trip: %+v, %v", k, err)
		}
	})
}
