package tracing

import "healthcode/scoring"

// How the join reads the index: the records at a place or of a person within
// a time span, sealed segments first (by class run and binary search, the
// person filter and byPerson), then the segments being filled (by the place
// chains and a scan).

// isDup reports whether a presence identical to p (person px, at place) is held.
func (t *Tracer) isDup(px, place uint32, p *Presence) bool {
	lp := t.locs.place
	for a := range t.act {
		if t.act[a].findDup(lp, px, place, p.Start, p.End, p.ID) {
			return true
		}
	}
	for _, s := range t.byHour[uint32(p.Start/3600)] {
		for ci := range s.classes {
			c := &s.classes[ci]
			if classKind(c.class) != p.Kind || c.minStart > p.Start || c.maxEnd < p.End {
				continue
			}
			for i := s.placeRun(lp, c, place, p.Start); i < c.hi; i++ {
				r := s.rec(c, i)
				if r.start != p.Start || lp[r.loc] != place {
					break
				}
				if r.person == px && r.end == p.End && s.id(i) == p.ID {
					return true
				}
			}
		}
	}
	return false
}

// eachAtPlace calls fn for every unexpired record at place with start <= hi
// and end >= lo, segment by segment. fn must not keep the stay.
func (t *Tracer) eachAtPlace(place uint32, lo, hi scoring.Time, fn func(*stay)) {
	lp := t.locs.place
	kind := t.places.kind[place]
	var st stay
	for _, s := range t.segs {
		if s.maxEnd < lo || s.minStart > hi || s.maxEnd < t.cutoff {
			continue
		}
		for ci := range s.classes {
			c := &s.classes[ci]
			if classKind(c.class) != kind || c.maxEnd < lo || c.minStart > hi || c.maxEnd < t.cutoff {
				continue
			}
			for i := s.placeRun(lp, c, place, 0); i < c.hi; i++ {
				r := s.rec(c, i)
				if lp[r.loc] != place || r.start > hi {
					break
				}
				if r.end >= lo && r.end >= t.cutoff {
					st = stay{person: r.person, loc: r.loc, place: place, start: r.start, end: r.end, ev: evid{src: s, i: i}}
					fn(&st)
				}
			}
		}
	}
	for k := range t.act {
		a := &t.act[k]
		for r := a.placeHead[place]; r != 0; r = a.placeNext[r-1] {
			i := int(r - 1)
			if a.c.start[i] <= hi && a.c.end[i] >= lo && a.c.end[i] >= t.cutoff {
				st = a.stay(lp, i)
				fn(&st)
			}
		}
	}
}

// eachOfPerson calls fn for every unexpired record of person with start <= hi
// and end >= lo. fn must not keep the stay.
func (t *Tracer) eachOfPerson(person uint32, lo, hi scoring.Time, fn func(*stay)) {
	lp := t.locs.place
	var st stay
	for _, s := range t.segs {
		if s.maxEnd < lo || s.minStart > hi || s.maxEnd < t.cutoff || !s.mayHold(person) {
			continue
		}
		for k := s.personRun(person); k < len(s.byPerson); k++ {
			i := int(s.byPerson[k])
			r := s.rec(s.run(i), i)
			if r.person != person || r.start > hi {
				break
			}
			if r.end >= lo && r.end >= t.cutoff {
				st = stay{person: person, loc: r.loc, place: lp[r.loc], start: r.start, end: r.end, ev: evid{src: s, i: i}}
				fn(&st)
			}
		}
	}
	for k := range t.act {
		a := &t.act[k]
		for i, x := range a.c.person {
			if x == person && a.c.start[i] <= hi && a.c.end[i] >= lo && a.c.end[i] >= t.cutoff {
				st = a.stay(lp, i)
				fn(&st)
			}
		}
	}
}
