package pipeline

import (
	"context"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sources"
)

// appendOverrides appends the override records of one decoded message to
// dst (hc.overrides, keyed by officer pseudonym); an override that does not
// encode dead-letters the message.
func (in *ingest) appendOverrides(dst []kafka.Message, m *kafka.Message, os []scoring.Override, out *ingestOut) []kafka.Message {
	for i := range os {
		o := &os[i]
		b, err := wire.EncodeOverrideRecord(wire.OverrideRecord{Override: o})
		if err != nil {
			out.dead = append(out.dead, deadLetter(m, err))
			return dst
		}
		in.maxAt = max(in.maxAt, o.At)
		dst = append(dst, kafka.Message{Key: append([]byte(nil), o.Officer[:]...), Value: b})
		out.nOv++
	}
	return dst
}

// overrideClock is what ingest tells the override guard in event-clock
// mode, for its clock (pipeline/override_clock.go): for each partition of
// src.overrides this process read, the offset it forwarded to, the lowest
// occurred_at an override still to come there can have (Last), and whether
// the partition is at its end with this process idle; for an empty
// partition, the same. A tick follows the overrides of its batch on
// hc.overrides, so the guard has every override a tick reports before the
// tick. A process reports only what it read itself: the guard keeps, per
// partition, the report that forwarded the most, whichever process owns the
// partition now.
//
// Last is the latest occurred_at read from the partition (each partition is
// read in order), raised, while the partition is at its end, to ingest's
// event clock as it stood idleTick earlier (settled). A partition at its end
// vouches only for the records already written to it: a producer writing
// several partitions at once (kafka-go's Writer sends each partition's batch
// on its own) can make one visible before another, so at the moment one is
// read to its end, another may be at its end only because its part of the
// same write has not landed. What is written later is assumed to be no
// older than what ingest had read idleTick before: an upstream whose writes
// to src.overrides land out of occurred_at order by less than idleTick of
// wall time is decided in time order (docs/overrides.md).
type overrideClock struct {
	last  map[int]scoring.Time // partition -> lowest occurred_at still to come (see above)
	next  map[int]int64        // partition -> offset after the last read
	parts int                  // partitions of src.overrides, once known
	sent  scoring.Time         // the event clock of the last tick sent
	sentP map[int]wire.TickPart
	warn  bool             // the end offsets could not be read (logged once)
	looks []clockLook      // ingest's event clock at its looks of the last idleTick, oldest first
	now   func() time.Time // the wall clock; nil is time.Now
}

// clockLook is ingest's event clock at one look (one overrideTick).
type clockLook struct {
	wall time.Time
	at   scoring.Time
}

func (c *overrideClock) read(m *kafka.Message, os []scoring.Override) {
	if c.last == nil {
		c.last, c.next = map[int]scoring.Time{}, map[int]int64{}
	}
	c.next[m.Partition] = max(c.next[m.Partition], m.Offset+1)
	for i := range os {
		c.last[m.Partition] = max(c.last[m.Partition], os[i].At)
	}
}

// settled records that ingest's event clock is at at this look and returns
// the event clock as it stood idleTick earlier: the latest look at least
// idleTick old, or at itself when idle (no input for idleTick: nothing was
// read since the last look). Before any look that old, 0.
func (c *overrideClock) settled(at scoring.Time, idle bool) scoring.Time {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	t := now()
	c.looks = append(c.looks, clockLook{t, at})
	i := 0 // c.looks[:i] are at least idleTick old
	for i < len(c.looks) && t.Sub(c.looks[i].wall) >= idleTick {
		i++
	}
	var s scoring.Time
	if i > 0 {
		s = c.looks[i-1].at
		c.looks = append(c.looks[:0], c.looks[i-1:]...) // the newest old one is all that is needed
	}
	if idle {
		s = at
	}
	return s
}

// overrideTick appends a tick to hc.overrides when what it reports changed.
// assigned are the partitions of src.overrides this process is assigned, with
// the committed offsets it started from: one whose committed offset is its
// end is reported there, at its end, when this process read no further. Every
// override below a committed offset was forwarded before the commit, and
// without that report a partition whose last reader stopped before telling
// the guard it was at the end would hold the guard's clock for good.
//
// A tick after an empty fetch (out.in empty: idleTick without input) is an
// idle look: the partitions at their end are reported AtEnd, and the guard
// may then take the event clock for every partition and decide what waits
// (override_clock.go). A look after input never reports AtEnd: the input
// may be part of a write whose other partitions have not landed yet.
func (in *ingest) overrideTick(ctx context.Context, out *ingestOut, assigned map[int]int64) {
	c := &in.ovr
	idle := len(out.in) == 0
	settled := c.settled(in.maxAt, idle)
	topic := in.o.Topics.Sources[sources.StreamOverrides]
	var err error
	if c.parts == 0 {
		c.parts, err = in.kc.PartitionCount(ctx, topic)
	}
	var ends map[int]int64
	if err == nil {
		ends, err = in.kc.EndOffsets(ctx, topic, seq(c.parts)...)
	}
	if err != nil {
		if !c.warn && ctx.Err() == nil {
			in.o.Logger.Warn("ingest: end offsets of the overrides topic unreadable; the override guard's clock waits", slog.Any("error", err))
			c.warn = true
		}
		return
	}
	if c.last == nil {
		c.last, c.next = map[int]scoring.Time{}, map[int]int64{}
	}
	var parts []wire.TickPart
	changed := in.maxAt > c.sent
	for p := 0; p < c.parts; p++ {
		next, read := c.next[p]
		if from, mine := assigned[p]; mine && from >= ends[p] && (!read || from > next) {
			next, read = from, true // at its end, from the commit (what this process read before may be older)
		}
		if !read && ends[p] > 0 {
			continue // another process's, or not read yet: it reports it
		}
		atEnd := next >= ends[p]
		if atEnd {
			// Everything written to p so far was forwarded; what is
			// written from now on is no older than the settled clock.
			c.last[p] = max(c.last[p], settled)
		}
		tp := wire.TickPart{Partition: p, Next: next, Last: c.last[p], AtEnd: atEnd && idle}
		parts = append(parts, tp)
		if c.sentP[p] != tp {
			changed = true
		}
	}
	if !changed {
		return
	}
	b, err := wire.EncodeOverrideRecord(wire.OverrideRecord{Tick: in.maxAt, Parts: parts})
	if err != nil {
		return // a tick of valid partitions always encodes
	}
	out.overs = append(out.overs, kafka.Message{Value: b})
	c.sent = max(c.sent, in.maxAt)
	if c.sentP == nil {
		c.sentP = map[int]wire.TickPart{}
	}
	for _, tp := range parts {
		c.sentP[tp.Partition] = tp
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
