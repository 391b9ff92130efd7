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

// overrideClock is the clock ingest gives the override guard in event-clock
// mode: a low watermark of src.overrides. Each partition of it is read in
// order, so an override older than the latest read from its partition can
// only come from a partition not yet caught up: the clock is the lowest
// latest occurred_at of the partitions with unread messages, and the event
// clock when every partition is caught up. The guard decides an override once
// this clock passes it (by Options.OverrideSettle), so replays decide
// overrides in time order however the partitions interleave. A tick sent
// when every partition is caught up says so: the guard then decides what it
// holds at once, so the last overrides of a replay are not left waiting for
// a clock that no longer moves.
type overrideClock struct {
	last         map[int]scoring.Time // partition -> latest occurred_at read
	next         map[int]int64        // partition -> offset after the last read
	parts        int                  // partitions of src.overrides, once known
	sent         scoring.Time
	sentCaughtUp bool // the last tick sent said every partition was read
	warn         bool // the end offsets could not be read (logged once)
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

// overrideTick appends a tick to hc.overrides when the guard's clock moved.
func (in *ingest) overrideTick(ctx context.Context, out *ingestOut) {
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
	at, caughtUp := in.maxAt, true
	for p, end := range ends {
		if c.next[p] < end { // unread messages: none older than the latest read
			at, caughtUp = min(at, c.last[p]), false
		}
	}
	// A caught-up tick lets the guard decide what it holds: sent again
	// whenever overrides were read since the last one.
	if at <= c.sent && !(caughtUp && (!c.sentCaughtUp || out.nOv > 0)) {
		return
	}
	b, err := wire.EncodeOverrideRecord(wire.OverrideRecord{Tick: at, CaughtUp: caughtUp})
	if err != nil {
		return // a tick always encodes
	}
	out.overs = append(out.overs, kafka.Message{Value: b})
	c.sent, c.sentCaughtUp = max(c.sent, at), caughtUp
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
