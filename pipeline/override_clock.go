package pipeline

import (
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// sourceClock is the override guard's event clock, kept from the ticks ingest
// writes to hc.overrides: per partition of src.overrides, the report that
// forwarded the most of it (the highest Next offset), whichever ingest
// process sent it, with the highest Last any report of it gave. An ingest
// process reports only the partitions it read, so a partition another
// process owns, or owned before a restart or rebalance, keeps the report of
// the process that read it furthest; a stale report with a lower offset
// changes nothing.
//
// Each report's Last is the lowest occurred_at an override still to come
// from its partition can have (override_ingest.go), so the clock is the
// lowest Last of all partitions, at their end or not: a partition at its end
// vouches only for what was written to it, and what lands there later is
// bounded by its Last, not by the other partitions. Only when every
// partition was last reported at its end by an idle ingest process (no
// input for a second) is the clock the highest ingest event clock of the
// ticks. A partition no report names yet holds the clock. Replaying
// hc.overrides rebuilds the same state (docs/overrides.md).
type sourceClock struct {
	parts map[int]wire.TickPart
	event scoring.Time // the highest ingest event clock read
	n     int          // partitions of src.overrides; 0 until known
}

// apply takes one tick.
func (c *sourceClock) apply(r *wire.OverrideRecord) {
	if c.parts == nil {
		c.parts = map[int]wire.TickPart{}
	}
	c.event = max(c.event, r.Tick)
	for _, p := range r.Parts {
		cur, ok := c.parts[p.Partition]
		switch {
		case !ok:
			c.parts[p.Partition] = p
		case p.Next > cur.Next: // more forwarded; what was vouched for still holds
			p.Last = max(p.Last, cur.Last)
			c.parts[p.Partition] = p
		case p.Next == cur.Next: // the same overrides: the later look at the end wins
			cur.Last, cur.AtEnd = max(cur.Last, p.Last), p.AtEnd
			c.parts[p.Partition] = cur
		}
	}
}

// wants reports whether the partition count must be read (again): not yet
// known, or a tick named a partition beyond it.
func (c *sourceClock) wants() bool {
	if c.n == 0 {
		return true
	}
	for p := range c.parts {
		if p >= c.n {
			return true
		}
	}
	return false
}

// now returns the clock and whether every partition was reported at its end
// by an idle ingest process (no override older than the clock can follow,
// so what waits up to it need not wait for the settling time).
func (c *sourceClock) now() (scoring.Time, bool) {
	if c.n == 0 {
		return 0, false
	}
	at, all := scoring.MaxTime, true
	for p := 0; p < c.n; p++ {
		st, ok := c.parts[p]
		if !ok {
			return 0, false
		}
		at, all = min(at, st.Last), all && st.AtEnd
	}
	if all {
		return max(c.event, at), true
	}
	return at, false
}
