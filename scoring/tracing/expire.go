package tracing

import "healthcode/scoring"

// sweepEvery is how far the expiry horizon must move before the marks, hot
// stays and emitted exposures are swept (they never match once expired; the
// sweep only frees their memory).
const sweepEvery scoring.Time = 3600

// Expire moves the expiry horizon to now - Contacts.Lookback: presences that
// ended before it and marks whose window ended before it never match again
// (an open-ended mark expires once its window starts before the horizon).
// Memory is reclaimed in bulk: a segment is dropped once all its presences have
// expired and rewritten once about half have; the interning tables free the
// entries no presence uses any more.
func (t *Tracer) Expire(now scoring.Time) {
	var cutoff scoring.Time
	if uint32(now) > t.lookback {
		cutoff = now - scoring.Time(t.lookback)
	}
	if cutoff <= t.cutoff {
		return
	}
	t.cutoff = cutoff
	changed := false
	keep := t.segs[:0]
	for _, s := range t.segs {
		switch {
		case s.maxEnd < cutoff:
			for k := range s.classes {
				c := &s.classes[k]
				for i := c.lo; i < c.hi; i++ {
					r := s.rec(c, i)
					t.release(&r)
				}
			}
			t.held -= s.n()
			changed = true
		case s.midEnd < cutoff:
			f := s.filter(t.locs.class, t.expired(cutoff))
			t.held -= s.n()
			if f != nil {
				t.held += f.n()
				keep = append(keep, f)
			}
			changed = true
		default:
			keep = append(keep, s)
		}
	}
	clear(t.segs[len(keep):])
	t.segs = keep
	for k := range t.act {
		if t.expireActive(k, cutoff) {
			changed = true
		}
	}
	if changed {
		clear(t.byHour)
		for _, s := range t.segs {
			for _, h := range s.hours {
				t.byHour[h] = append(t.byHour[h], s)
			}
		}
	}
	if changed || cutoff >= t.swept+sweepEvery {
		t.sweep()
	}
}

// expireActive rewrites the segment being filled of stream k once half of
// it has expired, and reports whether it did.
func (t *Tracer) expireActive(k int, cutoff scoring.Time) bool {
	a := &t.act[k]
	if a.c.n() == 0 || a.minEnd >= cutoff {
		return false
	}
	expired := 0
	for _, e := range a.c.end {
		if e < cutoff {
			expired++
		}
	}
	if expired*2 < a.c.n() {
		return false
	}
	// Seal it and let the next round rewrite it like any segment.
	t.sealActive(k)
	last := t.segs[len(t.segs)-1]
	f := last.filter(t.locs.class, t.expired(cutoff))
	t.held -= last.n()
	t.segs = t.segs[:len(t.segs)-1]
	if f != nil {
		t.held += f.n()
		t.segs = append(t.segs, f)
	}
	return true
}

// expired returns a filter that drops (and releases) the records that ended
// before cutoff.
func (t *Tracer) expired(cutoff scoring.Time) func(r *rec) bool {
	return func(r *rec) bool {
		if r.end >= cutoff {
			return false
		}
		t.release(r)
		return true
	}
}

// release counts one use less of a record's person and location.
func (t *Tracer) release(r *rec) {
	t.people.release(r.person)
	place := t.locs.place[r.loc]
	if t.locs.release(r.loc) {
		t.places.release(place)
	}
}

// sweep frees expired marks, hot stays and emitted exposures.
func (t *Tracer) sweep() {
	c := t.cutoff
	t.swept = c
	for k, list := range t.marks {
		keep := list[:0]
		for _, m := range list {
			if t.markLive(&m) {
				keep = append(keep, m)
			}
		}
		if len(keep) == 0 {
			delete(t.marks, k)
		} else {
			t.marks[k] = keep
		}
	}
	for k := range t.hotPeople {
		if len(t.marks[k]) == 0 {
			delete(t.hotPeople, k)
		}
	}
	for place, list := range t.hot {
		keep := list[:0]
		for _, h := range list {
			if h.end >= c && t.hotPeople[h.key] {
				keep = append(keep, h)
			}
		}
		if len(keep) == 0 {
			delete(t.hot, place)
		} else {
			clear(list[len(keep):])
			t.hot[place] = keep
		}
	}
	for k, rec := range t.emitted {
		if rec.keep < c {
			delete(t.emitted, k)
		}
	}
}

// markLive reports whether m's window reaches the expiry horizon.
func (t *Tracer) markLive(m *scoring.Mark) bool {
	if m.To == 0 {
		return m.From >= t.cutoff
	}
	return m.To >= t.cutoff
}
