package sinks_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed:\n got %s\nwant %s\n(run go test ./sinks -update if the change is intended and keeps the contract)", name, got, want)
	}
}

// TestColourUpdate_Golden pins the JSON of hc.colour-updates (docs/contract.md):
// a red close contact, decided by the engine from two events.
func TestColourUpdate_Golden(t *testing.T) {
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	eng := scoring.NewEngine(pol, scoring.EngineOptions{})
	key := scoring.PersonKey{0x9f, 0x1c}
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	checkin := scoring.Event{Person: key, Kind: scoring.KindCheckin, At: at.Add(-48 * 3600e9), Place: "V330102000123", ID: "chk-1", Source: "venue-app"}
	ups, err := eng.Apply(&checkin, checkin.At, nil)
	if err != nil || len(ups) != 1 {
		t.Fatalf("first update: %v %v", ups, err)
	}
	exposure := scoring.Event{Person: key, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at,
		End: at.Add(24 * 3600e9), Place: "v:V330102000123", ID: "exp-1", Source: "tracing"}
	ups, err = eng.Apply(&exposure, at, nil)
	if err != nil || len(ups) != 1 {
		t.Fatalf("second update: %v %v", ups, err)
	}
	b, err := json.MarshalIndent(sinks.NewColourUpdate(pol, &ups[0], nil), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "colour-update.json", append(b, '\n'))

	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"person_key", "colour", "previous", "level", "version", "policy", "effective_at", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("colour update lacks %q", k)
		}
	}
	// Only a negative PCR can clear this close contact (14 days AND a test):
	// nothing changes by the clock alone, so review_at is absent.
	if _, ok := m["review_at"]; ok {
		t.Errorf("review_at present with nothing pending: %v", m["review_at"])
	}
}
