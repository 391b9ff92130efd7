package pipeline

import (
	"cmp"
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

// An exposure comes back from the trace stage after the mark or presence
// behind it was applied, so its own time is mostly behind the watermark when
// it arrives, and applied on arrival its place among the person's events (and
// among their other exposures) would follow how the trace stage batched its
// output. It is therefore placed at the time it became known, one lateness per
// hop after the case was reported: its key is max(exposure time, the case's
// reported_at) plus one lateness (close contacts, companions, area risk) or
// two (secondary contacts, which follow a close contact's exposure applied at
// its own key). The key is a function of the exposure's content, and so is its
// place, as long as the trace loop answers within a lateness of event time.
//
// An exposure whose key is past the clock is applied only after
// settleFetches fetches in a row without input: the quiet after the
// upstream input waits for the trace loop's answer too, so exposures of one
// hop are applied together, in key order, not in their order of arrival. Of
// the versions of one exposure applied together only the highest is applied:
// the versions on the way to it follow how the tracer's input interleaved.

// settleFetches is the number of fetches in a row without input (a second
// each) after which everything held is applied, exposures past the clock too.
const settleFetches = 3

// heldEvent is an event waiting for the watermark, and the message it came
// in (without its value: for the dead letter, which carries the event alone).
type heldEvent struct {
	ev  scoring.Event
	key scoring.Time // where it is applied: its time, an exposure's as above
	src kafka.Message
}

// heldKey is the time at which a held event is applied (see above).
func (pt *part) heldKey(ev *scoring.Event) scoring.Time {
	if ev.Kind != scoring.KindExposure {
		return ev.At
	}
	hops := scoring.Time(1)
	if scoring.ExposureKind(ev.Sub) == scoring.ExposureSecondary {
		hops = 2
	}
	return max(ev.At, ev.End) + hops*scoring.Time(pt.s.o.Lateness.Seconds())
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
	pt.held = append(pt.held, heldEvent{ev: *ev, key: pt.heldKey(ev), src: src})
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

// release applies, in key order, the held events the watermark has passed,
// or when idle (fetches in a row without input) those up to the clock, and
// after settleFetches all of them; each after the timers due before it. It
// returns the offset to commit: the first message with an event still held,
// or the end of what was read; -1 if that is not past committed.
func (pt *part) release(next int64, idle int, committed int64) int64 {
	pt.quiet = idle > 0
	if next >= 0 {
		pt.readTo = max(pt.readTo, next)
	}
	slices.SortStableFunc(pt.held, func(a, b heldEvent) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return inTime(&a.ev, &b.ev)
	})
	limit := pt.watermark()
	if pt.quiet {
		limit = pt.clock
	}
	n := 0
	for n < len(pt.held) && (idle >= settleFetches || pt.held[n].key <= limit) {
		n++
	}
	latest := latestVersions(pt.held[:n])
	for i := range pt.held[:n] {
		h := &pt.held[i]
		if h.ev.Kind == scoring.KindExposure && h.ev.Version < latest[h.ev.ID] {
			continue // a later version of this exposure is applied with it
		}
		pt.updates = pt.eng.Advance(min(h.key, limit), pt.updates)
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

// latestVersions returns the highest version of each exposure among hs.
func latestVersions(hs []heldEvent) map[string]uint64 {
	var latest map[string]uint64
	for i := range hs {
		if ev := &hs[i].ev; ev.Kind == scoring.KindExposure {
			if latest == nil {
				latest = map[string]uint64{}
			}
			latest[ev.ID] = max(latest[ev.ID], ev.Version)
		}
	}
	return latest
}
