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
// versions however its topics interleaved. When no upstream input comes for a
// fetch's wait (a second), every upstream event held is applied and the
// timers fire up to the clock (or the first exposure still held): the input
// is quiet, and waiting longer would only delay it.
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
// An exposure the watermark has not passed waits for the quiet of its hop:
// settleFetches fetches in a row that brought nothing of its hop or an
// earlier one (upstream input is hop 0), and, for a secondary contact (hop
// 2), as many since exposures of hop 1 were last applied by their quiet
// here, since those are what it answers (and no sooner than an earlier key
// allows: what is held is applied in key order). So
// one hop's exposures are applied together, in key order, not in their order
// of arrival, and an answer of the next hop arriving meanwhile does not put
// off the hop before it (which would split the next hop's answers over two
// releases in the partitions that had not waited: measured in make chaos).
// Of the versions of one exposure applied together only the highest is
// applied: the versions on the way to it follow how the tracer's input
// interleaved.

// settleFetches is the number of fetches in a row (a second each) without
// input of its hop or an earlier one after which a hop's exposures past the
// clock are applied.
const settleFetches = 3

// hops is the number of hops an event can be from the upstream input: 0
// (upstream), 1 (a case's contacts, area risk), 2 (secondary contacts).
const hops = 3

// heldEvent is an event waiting for the watermark, and the message it came
// in (without its value: for the dead letter, which carries the event alone).
type heldEvent struct {
	ev  scoring.Event
	key scoring.Time // where it is applied: its time, an exposure's as above
	hop uint8
	src kafka.Message
}

// hopOf is how many hops from the upstream input ev is (see hops).
func hopOf(ev *scoring.Event) uint8 {
	switch {
	case ev.Kind != scoring.KindExposure:
		return 0
	case scoring.ExposureKind(ev.Sub) == scoring.ExposureSecondary:
		return 2
	}
	return 1
}

// heldKey is the time at which a held event is applied (see above).
func (pt *part) heldKey(ev *scoring.Event) scoring.Time {
	if ev.Kind != scoring.KindExposure {
		return ev.At
	}
	return max(ev.At, ev.End) + scoring.Time(hopOf(ev))*scoring.Time(pt.s.o.Lateness.Seconds())
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
		pt.arrived = 0 // upstream input, though nothing to hold
		return
	}
	src := *m
	src.Value = nil
	h := heldEvent{ev: *ev, key: pt.heldKey(ev), hop: hopOf(ev), src: src}
	pt.arrived = min(pt.arrived, h.hop)
	pt.held = append(pt.held, h)
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

// quiet reports whether the last fetch brought no upstream input.
func (pt *part) quiet() bool { return pt.quietFor[0] > 0 }

// settled is the time the partition's timers may fire up to: the watermark
// while upstream input comes; when quiet, now, but no later than the first
// event still held.
func (pt *part) settled() scoring.Time {
	switch {
	case !pt.holding():
		return pt.now()
	case !pt.quiet():
		return pt.watermark()
	case len(pt.held) > 0: // sorted by release: the first is the earliest
		return min(pt.now(), max(pt.held[0].key, pt.watermark()))
	}
	return pt.now()
}

// fetched counts, for each hop, the fetches in a row that brought nothing
// of it or an earlier hop; call it once per fetch, before release.
func (pt *part) fetched() {
	for h := range pt.quietFor {
		if pt.arrived <= uint8(h) {
			pt.quietFor[h] = 0
		} else {
			pt.quietFor[h]++
		}
	}
	pt.arrived = hops
	pt.hop1Ago++
}

// releasable reports whether held event h may be applied now (see above).
func (pt *part) releasable(h *heldEvent) bool {
	switch {
	case h.key <= pt.watermark():
		return true
	case h.hop == 0:
		return pt.quiet() && h.key <= pt.clock
	case h.hop == 2 && pt.hop1Ago < settleFetches:
		return false // the answers to the contacts of hop 1 applied may still come
	}
	return pt.quietFor[h.hop] >= settleFetches
}

// release applies, in key order, the held events the watermark has passed,
// after a fetch without upstream input those up to the clock, and the
// exposures whose hop is quiet; each after the timers due before it (up to
// the clock). It stops at the first it may not apply. It returns the
// offset to commit: the first message with an event still held, or the end
// of what was read; -1 if that is not past committed.
func (pt *part) release(next int64, committed int64) int64 {
	if next >= 0 {
		pt.readTo = max(pt.readTo, next)
	}
	slices.SortStableFunc(pt.held, func(a, b heldEvent) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return inTime(&a.ev, &b.ev)
	})
	n := 0
	for ; n < len(pt.held) && pt.releasable(&pt.held[n]); n++ {
		if h := &pt.held[n]; h.hop == 1 && h.key > pt.watermark() {
			pt.hop1Ago = 0
		}
	}
	limit := pt.watermark()
	if pt.quiet() {
		limit = pt.clock
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
