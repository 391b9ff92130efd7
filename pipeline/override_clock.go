package pipeline

import (
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// sourceClock is the override guard's event clock, kept from the ticks ingest
// writes to hc.overrides: per partition of src.overrides, the report that
// forwarded the most of it (the highest Next offset), whichever ingest
// process sent it. An ingest process reports only the partitions it read, so
// a partition another process owns, or owned before a restart or rebalance,
// keeps the report of the process that read it furthest; a stale report with
// a lower offset changes nothing. The clock is the lowest latest occurred_at
// of the partitions not read to their end, and the ingest event clock when
// all are: it never passes an override of any partition not yet forwarded.
// A partition no report names yet holds the clock. Replaying hc.overrides
// rebuilds the same state (docs/overrides.md).
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
		case !ok || p.Next > cur.Next:
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

// now returns the clock and whether every partition was read to its end (no
// override older than those forwarded can follow).
func (c *sourceClock) now() (scoring.Time, bool) {
	if c.n == 0 {
		return 0, false
	}
	at, all := c.event, true
	for p := 0; p < c.n; p++ {
		st, ok := c.parts[p]
		if !ok {
			return 0, false
		}
		if !st.AtEnd {
			at, all = min(at, st.Last), false
		}
	}
	return at, all
}
