package pipeline

import (
	"encoding/json"
	"fmt"

	"healthcode/pipeline/wire"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
)

// overrideBefore is what the scoring stage knew of a person before applying
// an override event: the colour last issued, and whether this very override
// was already applied (a redelivery, which is not audited again).
type overrideBefore struct {
	level   int // -1: never issued (the lowest colour)
	already bool
	ok      bool // ev is an override
}

func (pt *part) beforeOverride(ev *scoring.Event) overrideBefore {
	if ev.Kind != scoring.KindOverride {
		return overrideBefore{}
	}
	b := overrideBefore{level: -1, ok: true, already: pt.eng.OverrideID(ev.Person) == ev.ID}
	if l, ok := pt.eng.Issued(ev.Person); ok {
		b.level = int(l)
	}
	return b
}

// auditOverride records what an applied override event did: applied, with
// the person's colour before and after, or superseded by a later override
// already in force.
func (pt *part) auditOverride(ev *scoring.Event, b overrideBefore) {
	if !b.ok || b.already {
		return
	}
	after := -1
	if l, ok := pt.eng.Issued(ev.Person); ok {
		after = int(l)
	}
	superseded := pt.eng.OverrideID(ev.Person) != ev.ID
	a := wire.NewAppliedAudit(pt.eng.Policy(), ev, b.level, after, superseded, pt.now())
	v, err := json.Marshal(wire.OverrideAuditRecord{Audit: &a})
	if err != nil {
		// Only strings and numbers: it always encodes.
		panic(fmt.Sprintf("encode applied override audit: %v", err))
	}
	pt.audit = append(pt.audit, kafka.Message{Key: []byte(a.Officer), Value: v})
	if !superseded {
		pt.s.o.OverrideMetrics.Applied.Add(1)
	}
}
