package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"healthcode/pipeline/wire"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/guard"
)

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
	a := wire.NewOverrideAudit(pol, &e)
	if a.Colour != "red" || a.Officer != e.Override.Officer.String() || a.SecondApprover != e.SecondApprover.String() || a.Policy != "domestic@1" {
		t.Fatalf("audit %+v", a)
	}
	b, err := json.Marshal(wire.OverrideAuditRecord{Audit: &a})
	if err != nil {
		t.Fatal(err)
	}
	var rec wire.OverrideAuditRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Audit == nil || rec.Alert != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	got, ok, err := rec.Audit.GuardEntry()
	if err != nil || !ok || got != e {
		t.Fatalf("round trip: %+v %v %v; want %+v", got, ok, err, e)
	}
	ev := e.Override.Event()
	applied := wire.NewAppliedAudit(pol, &ev, -1, 2, false, at)
	if applied.Decision != wire.AuditApplied || applied.ColourBefore != "green" || applied.ColourAfter != "red" || applied.Approver != a.Approver {
		t.Fatalf("applied %+v", applied)
	}
	if _, ok, err := applied.GuardEntry(); ok || err != nil {
		t.Fatalf("an applied entry parsed as the guard's: %v %v", ok, err)
	}
	if s := string(b); strings.Contains(s, "officer-") {
		t.Fatalf("a name in %s", s)
	}
}
