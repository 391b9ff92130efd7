package guard

import "healthcode/scoring"

// Restore loads an audit entry the guard decided earlier (replayed from its
// own output after a restart) without deciding anything: decided ids, the
// windows, and the overrides still held. Call Restored after the last one.
func (g *Guard) Restore(e Entry) {
	o := e.Override
	k := idKey(o.Source, o.ID)
	g.decided[k] = o.At
	switch e.Decision {
	case Accepted:
		if e.SecondApprover != (scoring.PersonKey{}) {
			delete(g.held, k) // counted when it was held
			return
		}
		g.addCounts(&o)
	case Held:
		g.addCounts(&o)
		g.held[k] = &o
	case Refused:
		delete(g.held, k) // held, then ended unconfirmed
	}
}

// SetClock moves the clock to at least t without deciding anything (the
// clock a restart read back).
func (g *Guard) SetClock(t scoring.Time) { g.clock = max(g.clock, t) }

// Restored finishes a restore: it marks which counted overrides passed a
// threshold, so an alert raised before the restart keeps standing and is
// not raised again.
func (g *Guard) Restored() {
	clear(g.exceed)
	for s, ts := range g.counts {
		if s.rule < 0 {
			continue
		}
		a := &g.p.Overrides.Alerts[s.rule]
		for _, t := range ts {
			if countIn(ts, t, a.Window.Std()) > a.Over {
				g.exceed[s] = insertTime(g.exceed[s], t)
			}
		}
	}
}
