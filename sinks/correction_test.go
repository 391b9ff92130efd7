package sinks_test

import (
	"testing"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
)

// TestColourUpdate_Correction: an override's reason and until are on the
// update; one to green says, in both languages, that it is a correction.
func TestColourUpdate_Correction(t *testing.T) {
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	for _, tc := range []struct {
		level          uint8
		wantEN, wantZH string
	}{
		{0, "Corrected to green after an official review. Appeal upheld.", "经官方复核，已更正为绿码。Appeal upheld."},
		{2, "Appeal upheld.", "Appeal upheld."},
	} {
		eng := scoring.NewEngine(pol, scoring.EngineOptions{})
		o := scoring.Override{ID: "appeal-1", Source: "desk", Person: scoring.PersonKey{1}, Level: tc.level, At: at,
			Until: at.Add(7 * 24 * 3600e9), Reason: "Appeal upheld.", Officer: scoring.PersonKey{2}, Approver: scoring.PersonKey{3}}
		ev := o.Event()
		ups, err := eng.Apply(&ev, at, nil)
		if err != nil || len(ups) != 1 {
			t.Fatalf("apply: %v %v", ups, err)
		}
		cu := sinks.NewColourUpdate(pol, &ups[0], nil)
		if len(cu.Reasons) != 1 {
			t.Fatalf("reasons %+v", cu.Reasons)
		}
		r := cu.Reasons[0]
		if r.Rule != "override" || r.TextEN != tc.wantEN || r.TextZH != tc.wantZH || r.Until != "2020-03-23T10:00:00+08:00" ||
			len(r.Evidence) != 1 || r.Evidence[0] != "appeal-1" {
			t.Errorf("level %d: reason %+v; want %q / %q until 2020-03-23T10:00:00+08:00", tc.level, r, tc.wantEN, tc.wantZH)
		}
	}
}
