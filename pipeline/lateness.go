package pipeline

import (
	"slices"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
)

// On the event clock a person's versions follow from the order their events
// are applied (docs/contract.md, "Clock"), and the upstream topics are read
// concurrently: a person's event of one topic may reach scoring after a later
// event of theirs from another. With Options.Lateness (`run --lateness`) the
// score stage holds every event back until the partition's watermark, the
// event clock minus the lateness, has passed its time, and applies what it
// holds in time order (ties by event id); the timers fire up to the watermark
// only. An event no later than the lateness behind the latest input therefore
// takes its place in time, and two runs of the same input give the same
// versions however its topics interleaved. When no input comes for a fetch's
// wait (a second), everything held is applied and the timers fire up to the
// clock: the input is quiet, and waiting longer would only delay it.
//
// Offsets are committed, and the changelog marker written, only up to the
// first message with an event still held: after a crash or a move the held
// events are read again, and the events of those messages already applied
// are applied again, which changes nothing. The cost is memory for the held
// events (the input of one lateness in event time) and, in a replay, their
// delay; the wall clock holds nothing.

// heldEvent is an event waiting for the watermark, and the message it came
// in (without its value: for the dead letter, which carries the event alone).
type heldEvent struct {
	ev  scoring.Event
	src kafka.Message
}

// holding reports whether the partition holds events back.
func (pt *part) holding() bool {
	return pt.s.o.Clock == ClockEvent && pt.s.o.Lateness > 0
}

// hold takes one event of message m: a tick or an upstream event moves the
// clock at once, as without holding; every event but a tick is held.
func (pt *part) hold(m *kafka.Message, ev *scoring.Event) {
	if ev.At > pt.clock && ev.Kind != scoring.KindExposure {
		pt.clock = ev.At
	}
	if ev.Kind == scoring.KindTick {
		return
	}
	src := *m
	src.Value = nil
	pt.held = append(pt.held, heldEvent{ev: *ev, src: src})
}

// watermark is the time up to which nothing more is expected: the clock
// less the lateness.
func (pt *part) watermark() scoring.Time {
	late := scoring.Time(pt.s.o.Lateness.Seconds())
	if pt.clock <= late {
		return 0
	}
	return pt.clock - late
}

// settled is the time the partition's timers may fire up to: the watermark
// while events can still be held, else now.
func (pt *part) settled() scoring.Time {
	if pt.holding() && !pt.quiet {
		return pt.watermark()
	}
	return pt.now()
}

// release applies, in time order, the held events the watermark has passed,
// or all of them when quiet, each after the timers due before it, and
// returns the offset to commit: the first message with an event still held,
// or the end of what was read; -1 if that is not past committed.
func (pt *part) release(next int64, quiet bool, committed int64) int64 {
	pt.quiet = quiet
	if next >= 0 {
		pt.readTo = max(pt.readTo, next)
	}
	slices.SortStableFunc(pt.held, func(a, b heldEvent) int { return inTime(&a.ev, &b.ev) })
	limit := pt.watermark()
	if quiet {
		limit = pt.clock
	}
	n := 0
	for ; n < len(pt.held); n++ {
		h := &pt.held[n]
		if !quiet && h.ev.At > limit {
			break
		}
		pt.updates = pt.eng.Advance(min(h.ev.At, limit), pt.updates)
		pt.applyEvent(&h.src, &h.ev)
	}
	rest := copy(pt.held, pt.held[n:])
	clear(pt.held[rest:])
	pt.held = pt.held[:rest]
	commit := pt.readTo
	for i := range pt.held {
		commit = min(commit, pt.held[i].src.Offset)
	}
	if commit <= committed {
		return -1
	}
	return commit
}
