package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/guard"
)

// The golden file is an audit entry as it goes on hc.override-audit.
func TestOverrideAuditRecord_Golden(t *testing.T) {
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	e := guard.Entry{Decision: guard.Refused, At: at + 60, Why: "the colour red needs a reason code",
		Override: scoring.Override{ID: "o-7", Source: "desk", Person: scoring.PersonKey{1}, Level: 2, At: at, Until: at + 86400,
			Reason: "protest", Region: "410105", Officer: scoring.PersonKey{2}, Approver: scoring.PersonKey{3}}}
	a := NewOverrideAudit(pol, &e)
	b, err := json.Marshal(OverrideAuditRecord{Audit: &a})
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "override-audit-v1.json", b)
	if !bytes.Equal(b, want) {
		t.Errorf("the audit record differs from testdata/override-audit-v1.json:\n got %s\nwant %s", b, want)
	}
	var rec OverrideAuditRecord
	if err := json.Unmarshal(want, &rec); err != nil || rec.Audit == nil {
		t.Fatalf("golden file: %v", err)
	}
	if got, ok, err := rec.Audit.GuardEntry(); err != nil || !ok || got != e {
		t.Fatalf("golden file decodes to %+v %v %v; want %+v", got, ok, err, e)
	}
}

// FuzzOverrideAuditRecord: whatever the topic holds, decoding it and reading
// the guard's entry from it fails cleanly or round-trips.
func FuzzOverrideAuditRecord(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("testdata", "override-audit-v1.json")); err == nil {
		f.Add(seed)
	}
	f.Add([]byte(`{"alert":{"reason":"officer-red"}}`))
	f.Add([]byte(`{"audit":{"event_id":"x","occurred_at":1584324000,"person_key":"zz"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec OverrideAuditRecord
		if json.Unmarshal(b, &rec) != nil || rec.Audit == nil {
			return
		}
		e, ok, err := rec.Audit.GuardEntry()
		if err != nil || !ok {
			return
		}
		pol, err := policies.Load("domestic")
		if err != nil {
			t.Fatal(err)
		}
		if e.Override.Level >= uint8(len(pol.Colours)) {
			return
		}
		again, ok, err := ptr(NewOverrideAudit(pol, &e)).GuardEntry()
		if err != nil || !ok || again.Override.ID != e.Override.ID || again.Decision != e.Decision {
			t.Fatalf("round trip of %s: %+v %v %v", b, again, ok, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
