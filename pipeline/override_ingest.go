package pipeline

import (
	"context"
	"log/slog"

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
// src.overrides this process read, the offset it forwarded to, the latest
// occurred_at it read there, and whether that offset was the partition's end
// when it looked; for an empty partition, that it is at its end. Each
// partition is read in order, so an override older than the latest read from
// a partition can only come from a partition not read to its end. A tick
// follows the overrides of its batch on hc.overrides, so the guard has every
// override a tick reports before the tick. A process reports only what it
// read itself: the guard keeps, per partition, the report that forwarded the
// most, whichever process owns the partition now.
type overrideClock struct {
	last  map[int]scoring.Time // partition -> latest occurred_at read
	next  map[int]int64        // partition -> offset after the last read
	parts int                  // partitions of src.overrides, once known
	sent  scoring.Time         // the event clock of the last tick sent
	sentP map[int]wire.TickPart
	warn  bool // the end offsets could not be read (logged once)
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

// overrideTick appends a tick to hc.overrides when what it reports changed.
// assigned are the partitions of src.overrides this process is assigned, with
// the committed offsets it started from: one whose committed offset is its
// end is reported there, at its end, when this process read no further. Every
// override below a committed offset was forwarded before the commit, and
// without that report a partition whose last reader stopped before telling
// the guard it was at the end would hold the guard's clock for good.
func (in *ingest) overrideTick(ctx context.Context, out *ingestOut, assigned map[int]int64) {
	c := &in.ovr
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
		tp := wire.TickPart{Partition: p, Next: next, Last: c.last[p], AtEnd: next >= ends[p]}
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
