package tracing

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"healthcode/scoring"
)

// stay is a presence record as the join sees it. A stay read from a segment
// decodes its event id only when an exposure needs it.
type stay struct {
	person, loc, place uint32
	start, end         scoring.Time
	id                 string
	seg                *segment // with idx: where to read the id from when id is ""
	idx                int
}

func (s *stay) eventID() string {
	if s.seg != nil {
		return s.seg.id(s.idx)
	}
	return s.id
}

func (t *Tracer) stayAt(s *segment, i int, end scoring.Time) stay {
	loc := s.loc[i]
	return stay{person: s.person[i], loc: loc, place: t.locs.place[loc], start: s.start[i], end: end, seg: s, idx: i}
}

// contactPlace reports whether presences at places of kind k can be contacts
// (regions count for area risk only).
func contactPlace(k PlaceKind) bool { return k == PlaceVenue || k == PlaceCell || k == PlaceFlight }

// AddPresence indexes a presence and returns out with the exposures it
// completes: with a mark of its own person (it joins everyone already at the
// place), with a marked person's presence at the same place, or with an area
// designation already known. A presence identical to one held (same person,
// place, start, end and event id), one that ended before the expiry horizon, or
// a malformed one (no place, no start) is ignored.
func (t *Tracer) AddPresence(p Presence, out []Exposure) []Exposure {
	if !p.Kind.valid() || p.Start == 0 || p.End < t.cutoff {
		return out
	}
	if p.Kind == PlaceCell {
		if p.Cell == 0 {
			return out
		}
		p.Place = ""
	} else {
		if p.Place == "" {
			return out
		}
		p.Cell, p.Fine = 0, 0
	}
	if p.Kind != PlaceFlight {
		p.Row = 0
	}
	p.End = max(p.End, p.Start)
	px, havePerson := t.people.lookup(p.Person)
	place, havePlace := t.places.lookup(p.Kind, p.Place, p.Cell)
	if havePerson && havePlace && t.isDup(px, place, &p) {
		return out
	}
	if t.act.seg.n() == segCap {
		t.sealActive()
	}
	if havePerson {
		t.people.refs[px]++
	} else {
		px = t.people.intern(p.Person)
	}
	if !havePlace {
		place = t.places.add(p.Kind, p.Place, p.Cell)
	}
	loc, isNew := t.locs.intern(place, locVariant(&p))
	if !isNew && !havePlace {
		panic("tracing: a location of a new place")
	}
	if isNew && havePlace {
		t.places.refs[place]++ // one more location uses the place
	}
	t.act.add(t.locs.place, px, loc, place, p.Start, p.End, p.ID)

	st := stay{person: px, loc: loc, place: place, start: p.Start, end: p.End, id: p.ID}
	if p.Kind == PlaceRegion || p.Kind == PlaceCell {
		out = t.areaRiskOf(&st, p.Person, out)
	}
	if !contactPlace(p.Kind) {
		return out
	}
	if marks := t.marks[p.Person]; len(marks) > 0 {
		t.hot[place] = append(t.hot[place], hotStay{stay: st, key: p.Person})
		for i := range marks {
			out = t.join(&marks[i], &st, out)
		}
	}
	for _, h := range t.hot[place] {
		if h.person == px {
			continue
		}
		marks := t.marks[h.key]
		for i := range marks {
			out = t.pair(&marks[i], &h.stay, &st, out)
		}
	}
	return out
}

// isDup reports whether a presence identical to p (person px, at place) is held.
func (t *Tracer) isDup(px, place uint32, p *Presence) bool {
	lp := t.locs.place
	if t.act.findDup(lp, px, place, p.Start, p.End, p.ID) {
		return true
	}
	for _, s := range t.byHour[uint32(p.Start/3600)] {
		for i := s.placeRun(lp, place, p.Start); i < s.n() && s.start[i] == p.Start && lp[s.loc[i]] == place; i++ {
			if s.person[i] == px && s.end(i) == p.End && s.id(i) == p.ID {
				return true
			}
		}
	}
	return false
}

func (t *Tracer) sealActive() {
	if t.act.seg.n() == 0 {
		return
	}
	s := t.act.seal(t.locs.place)
	t.segs = append(t.segs, s)
	t.held += s.n()
	for _, h := range s.hours {
		t.byHour[h] = append(t.byHour[h], s)
	}
}

// AddMark remembers a mark and returns out with the exposures it completes:
// the marked person's presences in this partition that meet the window, joined
// with everyone co-present. A mark equal to one known, a malformed one, or one
// whose window ended before the expiry horizon adds nothing.
func (t *Tracer) AddMark(m scoring.Mark, out []Exposure) []Exposure {
	if (m.Level != scoring.MarkCase && m.Level != scoring.MarkClose) || m.From == 0 || (m.To != 0 && m.To < m.From) {
		return out
	}
	if !t.markLive(&m) {
		return out
	}
	known := t.marks[m.Person]
	// On a person's first mark, every presence of theirs at a contact place
	// becomes hot, so that later presences there are matched at once.
	first := len(known) == 0
	for i, k := range known {
		if k == m {
			return out
		}
		// A case has one infectious window, from its FIRST positive sample: a
		// mark from an earlier sample (a test processed out of order) replaces
		// the later one. Exposures already found under the later window stay.
		if m.Level == scoring.MarkCase && k.Level == scoring.MarkCase {
			if k.From < m.From || (k.From == m.From && k.To <= m.To) {
				return out
			}
			known = append(known[:i:i], known[i+1:]...)
			break
		}
	}
	t.marks[m.Person] = append(known, m)
	px, ok := t.people.lookup(m.Person)
	if !ok {
		return out
	}
	lo, hi := m.From, windowEnd(&m)
	if first {
		lo, hi = 0, scoring.MaxTime
	}
	var danger []stay
	t.eachOfPerson(px, lo, hi, func(s *segment, i int, end scoring.Time) {
		st := t.stayAt(s, i, end)
		if !contactPlace(t.places.kind[st.place]) {
			return
		}
		if first {
			h := hotStay{stay: st, key: m.Person}
			h.id, h.seg = st.eventID(), nil
			t.hot[st.place] = append(t.hot[st.place], h)
		}
		if st.start <= windowEnd(&m) && st.end >= m.From {
			danger = append(danger, st)
		}
	})
	for i := range danger {
		out = t.join(&m, &danger[i], out)
	}
	return out
}

func windowEnd(m *scoring.Mark) scoring.Time {
	if m.To == 0 {
		return scoring.MaxTime
	}
	return m.To
}

// join pairs the dangerous stay p of m's person with everyone at its place.
func (t *Tracer) join(m *scoring.Mark, p *stay, out []Exposure) []Exposure {
	cs, ce := max(p.start, m.From), min(p.end, windowEnd(m))
	var need scoring.Time
	switch t.places.kind[p.place] {
	case PlaceVenue:
		need = scoring.Time(t.closeOverlap)
	case PlaceCell:
		if m.Level != scoring.MarkCase {
			return out // companions are not a close definition: no secondary contacts by cell
		}
		need = scoring.Time(t.companionOverlap)
	case PlaceFlight:
		// On board no minimum overlap applies; but a close contact is exposed
		// at the end of the overlap (the arrival), and a window that only
		// touches the leg at that instant exposes no one on it a second time.
		if m.Level == scoring.MarkClose {
			need = 1
		}
	default:
		return out
	}
	if cs > ce || ce-cs < need {
		return out
	}
	t.eachAtPlace(p.place, cs+need, ce-need, func(s *segment, i int, end scoring.Time) {
		q := t.stayAt(s, i, end)
		out = t.pair(m, p, &q, out)
	})
	return out
}

// pair emits the exposure of q's person, if any, from the dangerous stay p of
// m's person. Stays are closed intervals: the overlap is min(end) - max(start)
// of q and p clipped to the window; venues need CloseOverlap, cells
// CompanionOverlap, flights any common instant.
func (t *Tracer) pair(m *scoring.Mark, p, q *stay, out []Exposure) []Exposure {
	if q.person == p.person || p.end < t.cutoff || q.end < t.cutoff || !t.markLive(m) {
		return out
	}
	cs, ce := max(p.start, m.From), min(p.end, windowEnd(m))
	os, oe := max(cs, q.start), min(ce, q.end)
	if cs > ce || os > oe {
		return out
	}
	ov := oe - os
	var kind scoring.ExposureKind
	switch t.places.kind[p.place] {
	case PlaceVenue:
		if ov < scoring.Time(t.closeOverlap) {
			return out
		}
		kind = scoring.ExposureClose
	case PlaceCell:
		if m.Level != scoring.MarkCase || ov < scoring.Time(t.companionOverlap) {
			return out
		}
		kind = scoring.ExposureCompanion
	case PlaceFlight:
		// Every crew member is a close contact of a case on board; passengers
		// within CloseRows of a passenger case are close contacts; everyone
		// else on board (including passengers of a crew case) is a companion.
		pr, qr := t.locs.row(p.loc), t.locs.row(q.loc)
		d := int(pr) - int(qr)
		close := qr == scoring.RowCrew || (pr != scoring.RowCrew && d <= t.closeRows && -d <= t.closeRows)
		switch {
		case close:
			kind = scoring.ExposureClose
		case m.Level == scoring.MarkCase:
			kind = scoring.ExposureCompanion
		default:
			return out
		}
	default:
		return out
	}
	exposed := t.people.keys[q.person]
	var wend scoring.Time
	if m.Level == scoring.MarkClose {
		if exposed == m.Source {
			return out
		}
		kind = scoring.ExposureSecondary // the close definitions, one hop further
	} else if kind == scoring.ExposureClose {
		wend = m.To
	}
	return t.emit(out, Exposure{Exposed: exposed, Source: m.Person, Kind: kind, Start: os, End: oe, At: oe, WindowEnd: wend},
		p.place, max(p.end, q.end), m.ID, p.eventID(), q.eventID())
}

// emit appends x (completed with its place, id and evidence) unless this tracer
// has emitted it before; keep is when it can be forgotten (every stay behind it
// has expired by then).
func (t *Tracer) emit(out []Exposure, x Exposure, place uint32, keep scoring.Time, evidence ...string) []Exposure {
	x.Place = t.places.key(place)
	sum := exposureHash(&x)
	k := binary.LittleEndian.Uint64(sum[:8])
	if _, ok := t.emitted[k]; ok {
		return out
	}
	t.emitted[k] = keep
	for _, e := range evidence {
		if e != "" {
			x.Evidence = append(x.Evidence, e)
		}
	}
	x.ID = "exp-" + hex.EncodeToString(sum[:16])
	return append(out, x)
}

// exposureHash is SHA-256 of (exposed, source, kind, place, start, end).
func exposureHash(x *Exposure) [32]byte {
	b := make([]byte, 0, 64+len(x.Place))
	b = append(b, x.Exposed[:]...)
	b = append(b, x.Source[:]...)
	b = append(b, byte(x.Kind))
	b = binary.AppendUvarint(b, uint64(len(x.Place)))
	b = append(b, x.Place...)
	b = binary.BigEndian.AppendUint32(b, uint32(x.Start))
	b = binary.BigEndian.AppendUint32(b, uint32(x.End))
	return sha256.Sum256(b)
}

// eachAtPlace calls fn for every unexpired record at place with start <= hi
// and end >= lo, segment by segment.
func (t *Tracer) eachAtPlace(place uint32, lo, hi scoring.Time, fn func(s *segment, i int, end scoring.Time)) {
	lp := t.locs.place
	for _, s := range t.segs {
		if s.maxEnd < lo || s.minStart > hi || s.maxEnd < t.cutoff {
			continue
		}
		for i := s.placeRun(lp, place, 0); i < s.n() && lp[s.loc[i]] == place && s.start[i] <= hi; i++ {
			if e := s.end(i); e >= lo && e >= t.cutoff {
				fn(s, i, e)
			}
		}
	}
	a := &t.act
	for r := a.placeHead[place]; r != 0; r = a.placeNext[r-1] {
		i := int(r - 1)
		if a.seg.start[i] > hi {
			continue
		}
		if e := a.seg.end(i); e >= lo && e >= t.cutoff {
			fn(&a.seg, i, e)
		}
	}
}

// eachOfPerson calls fn for every unexpired record of person with start <= hi
// and end >= lo.
func (t *Tracer) eachOfPerson(person uint32, lo, hi scoring.Time, fn func(s *segment, i int, end scoring.Time)) {
	for _, s := range t.segs {
		if s.maxEnd < lo || s.minStart > hi || s.maxEnd < t.cutoff {
			continue
		}
		for k := s.personRun(person); k < len(s.byPerson); k++ {
			i := int(s.byPerson[k])
			if s.person[i] != person || s.start[i] > hi {
				break
			}
			if e := s.end(i); e >= lo && e >= t.cutoff {
				fn(s, i, e)
			}
		}
	}
	a := &t.act.seg
	for i, x := range a.person {
		if x != person || a.start[i] > hi {
			continue
		}
		if e := a.end(i); e >= lo && e >= t.cutoff {
			fn(a, i, e)
		}
	}
}
