package sinks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/guard"
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

func TestOverrideAudit_RoundTrip(t *testing.T) {
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	e := guard.Entry{Decision: guard.Accepted, At: at + 60, SecondApprover: scoring.PersonKey{9},
		Why: "confirmed by a second approver",
		Override: scoring.Override{ID: "o-1", Source: "desk", Person: scoring.PersonKey{1}, Level: 2, At: at, Until: at + 86400,
			Reason: "isolation", ReasonCode: "medical-isolation", Region: "410105", Officer: scoring.PersonKey{2}, Approver: scoring.PersonKey{3}}}
	a := sinks.NewOverrideAudit(pol, &e)
	if a.Colour != "red" || a.Officer != e.Override.Officer.String() || a.SecondApprover != e.SecondApprover.String() || a.Policy != "domestic@1" {
		t.Fatalf("audit %+v", a)
	}
	b, err := json.Marshal(sinks.OverrideAuditRecord{Audit: &a})
	if err != nil {
		t.Fatal(err)
	}
	var rec sinks.OverrideAuditRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Audit == nil || rec.Alert != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	got, ok, err := rec.Audit.GuardEntry()
	if err != nil || !ok || got != e {
		t.Fatalf("round trip: %+v %v %v; want %+v", got, ok, err, e)
	}
	ev := e.Override.Event()
	applied := sinks.NewAppliedAudit(pol, &ev, -1, 2, false, at)
	if applied.Decision != sinks.AuditApplied || applied.ColourBefore != "green" || applied.ColourAfter != "red" || applied.Approver != a.Approver {
		t.Fatalf("applied %+v", applied)
	}
	if _, ok, err := applied.GuardEntry(); ok || err != nil {
		t.Fatalf("an applied entry parsed as the guard's: %v %v", ok, err)
	}
	if s := string(b); strings.Contains(s, "officer-") {
		t.Fatalf("a name in %s", s)
	}
}
