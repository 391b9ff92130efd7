package sim

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/sources"
)

// TestRun_DecodesWithSources feeds every message to the real decoder of
// package sources: nothing is rejected, and the person keys it derives are
// those of the ground truth.
func TestRun_DecodesWithSources(t *testing.T) {
	r := collect(t, Config{People: 3000, Days: 6, Seed: 4, Transmission: 0.2})
	dec, err := sources.NewDecoder(sources.Config{Key: testKey, Now: func() time.Time { return time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	var out sources.Batch
	checkedIn := map[scoring.PersonKey]bool{}
	areas := 0
	for _, m := range r.msgs {
		out.Reset()
		if err := dec.Decode(m.stream, m.value, &out); err != nil {
			t.Fatalf("%s message rejected: %v\n%s", m.stream, err, m.value)
		}
		areas += len(out.Areas)
		for _, e := range out.Events {
			if e.Kind == scoring.KindCheckin {
				checkedIn[e.Person] = true
			}
		}
	}
	if areas != r.sum.Messages[sources.StreamAreaRisk] {
		t.Fatalf("%d designations decoded from %d messages", areas, r.sum.Messages[sources.StreamAreaRisk])
	}
	n := 0
	d := json.NewDecoder(bytes.NewReader(r.truth))
	for d.More() {
		var in Infection
		if err := d.Decode(&in); err != nil {
			t.Fatal(err)
		}
		if in.Kind != "venue" {
			continue
		}
		n++
		for _, k := range []string{in.PersonKey, in.SourceKey} {
			pk, err := scoring.ParsePersonKey(k)
			if err != nil || !checkedIn[pk] {
				t.Fatalf("truth key %s (%v) has no decoded check-in", k, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no transmission to check")
	}
}
