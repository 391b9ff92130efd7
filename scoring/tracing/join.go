package tracing

import "healthcode/scoring"

// stay is a presence record as the join sees it. A stay read from a segment
// decodes its event id only when an exposure needs it.
type stay struct {
	person, loc, place uint32
	start, end         scoring.Time
	ev                 evid // its event id
}

// settled returns the stay with its event id read, to be kept beyond the
// operation.
func (s stay) settled() stay {
	s.ev = evid{s: s.ev.get()}
	return s
}

// contactPlace reports whether presences at places of kind k can be contacts
// (regions count for area risk only).
func contactPlace(k PlaceKind) bool { return k == PlaceVenue || k == PlaceCell || k == PlaceFlight }

// AddPresence indexes a presence and returns out with the exposure versions
// it gives: with a mark of its own person (it joins everyone already at the
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
	vari := locVariant(&p)
	a := stream(locClass(p.Kind, vari))
	if t.act[a].c.n() == segCap {
		t.sealActive(a)
	}
	if havePerson {
		t.people.use(px)
	} else {
		px = t.people.intern(p.Person)
	}
	if !havePlace {
		place = t.places.add(p.Kind, p.Place, p.Cell)
	}
	loc, isNew := t.locs.intern(place, p.Kind, vari)
	if !isNew && !havePlace {
		panic("tracing: a location of a new place")
	}
	if isNew && havePlace {
		t.places.refs[place]++ // one more location uses the place
	}
	t.act[a].add(t.locs.place, px, loc, place, p.Start, p.End, p.ID)

	st := stay{person: px, loc: loc, place: place, start: p.Start, end: p.End, ev: evid{s: p.ID}}
	t.begin()
	if p.Kind == PlaceRegion || p.Kind == PlaceCell {
		t.areaRiskOf(&st)
	}
	if contactPlace(p.Kind) {
		if marks := t.marks[p.Person]; len(marks) > 0 {
			t.hotPeople[p.Person] = true
			t.hot[place] = append(t.hot[place], hotStay{stay: st, key: p.Person})
			for i := range marks {
				t.join(&marks[i], &st, false)
			}
		}
		for _, h := range t.hot[place] {
			if h.person == px {
				continue
			}
			marks := t.marks[h.key]
			for i := range marks {
				if _, _, ok := t.dangerSpan(&marks[i], &h.stay); ok {
					if kind, c, ok := t.pairContrib(&marks[i], &h.stay, &st); ok {
						t.contribute(ident{exposed: px, source: h.key, kind: kind, place: place}, &c)
					}
				}
			}
		}
	}
	if len(t.pend) == 0 {
		return out
	}
	return t.finish(out)
}

// stream returns which segment being filled takes records of class c: travel
// stays, long and uploaded up to days late, go to segments of their own, so
// that those of check-ins and flights keep tight time bounds.
func stream(c uint8) int { return int(c & 1) }

// sealActive seals the segment being filled of stream a.
func (t *Tracer) sealActive(a int) {
	if t.act[a].c.n() == 0 {
		return
	}
	s := t.act[a].seal(&t.locs)
	t.segs = append(t.segs, s)
	t.held += s.n()
	for _, h := range s.hours {
		t.byHour[h] = append(t.byHour[h], s)
	}
}

// AddMark remembers a mark and returns out with the exposure versions it
// gives: the marked person's presences in this partition that meet the window,
// joined with everyone co-present. A person has one case mark, from the
// earliest known infectious window (the earliest From, then the earliest
// To): a better one replaces it, a worse one is ignored, in any order. A close
// mark is known by its ID (the close exposure's): a later one of the same ID
// replaces it, and a retraction removes it. What a replaced or removed mark
// gave is recomputed: exposures found under the old window and not under the
// new one are retracted, the others replaced where they changed. A mark equal
// to one known, a malformed one, or one whose window ended before the expiry
// horizon adds nothing.
func (t *Tracer) AddMark(m scoring.Mark, out []Exposure) []Exposure {
	if m.Level != scoring.MarkCase && m.Level != scoring.MarkClose {
		return out
	}
	known := t.marks[m.Person]
	old := -1
	for i, k := range known {
		if m.Level == scoring.MarkCase && k.Level == scoring.MarkCase {
			if k.From < m.From || (k.From == m.From && k.To <= m.To) || m.Retracted {
				return out // the known window is the earlier one (or equal)
			}
			old = i
			break
		}
		if m.Level == scoring.MarkClose && k.Level == scoring.MarkClose && k.ID == m.ID {
			if k == m {
				return out
			}
			old = i
			break
		}
	}
	if !m.Retracted && (m.From == 0 || (m.To != 0 && m.To < m.From) || !t.markLive(&m)) {
		if old < 0 {
			return out
		}
		m.Retracted = true // a replacement that can give nothing takes the old mark back
	}
	if old < 0 && m.Retracted {
		return out
	}
	t.begin()
	px, havePerson := t.people.lookup(m.Person)
	if old >= 0 {
		prev := known[old]
		if havePerson {
			t.joinMark(&prev, px, true)
		}
		known = append(known[:old:old], known[old+1:]...)
	}
	if !m.Retracted {
		known = append(known, m)
	}
	if len(known) == 0 {
		// Unmarked: the next sweep drops the person's hot stays, and a new
		// mark makes them all hot again.
		delete(t.marks, m.Person)
		delete(t.hotPeople, m.Person)
	} else {
		t.marks[m.Person] = known
	}
	if havePerson && !m.Retracted {
		if !t.hotPeople[m.Person] {
			// On a person's first mark, every presence of theirs at a contact
			// place becomes hot, so that later presences there are matched at
			// once.
			t.hotPeople[m.Person] = true
			t.eachOfPerson(px, 0, scoring.MaxTime, func(st *stay) {
				if contactPlace(t.places.kind[st.place]) {
					t.hot[st.place] = append(t.hot[st.place], hotStay{stay: st.settled(), key: m.Person})
				}
			})
		}
		t.joinMark(&m, px, old >= 0)
	}
	if len(t.pend) == 0 {
		return out
	}
	return t.finish(out)
}

// joinMark joins m with the dangerous stays of its person px; with touchOnly
// it only marks the identities it meets for recomputation.
func (t *Tracer) joinMark(m *scoring.Mark, px uint32, touchOnly bool) {
	var danger []stay
	t.eachOfPerson(px, m.From, windowEnd(m), func(st *stay) {
		if contactPlace(t.places.kind[st.place]) {
			danger = append(danger, *st)
		}
	})
	for i := range danger {
		t.join(m, &danger[i], touchOnly)
	}
}

func windowEnd(m *scoring.Mark) scoring.Time {
	if m.To == 0 {
		return scoring.MaxTime
	}
	return m.To
}

// dangerSpan returns the part [cs, ce] of the dangerous stay p within m's
// window that can expose anyone, and the overlap its place kind needs.
func (t *Tracer) dangerSpan(m *scoring.Mark, p *stay) (cs, ce scoring.Time, ok bool) {
	cs, ce = max(p.start, m.From), min(p.end, windowEnd(m))
	var need scoring.Time
	switch t.places.kind[p.place] {
	case PlaceVenue:
		need = scoring.Time(t.closeOverlap)
	case PlaceCell:
		if m.Level != scoring.MarkCase {
			return 0, 0, false // companions are not a close definition: no secondary contacts by cell
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
		return 0, 0, false
	}
	if cs > ce || ce-cs < need {
		return 0, 0, false
	}
	return cs + need, ce - need, true
}

// join pairs the dangerous stay p of m's person with everyone at its place:
// each overlap is contributed, or with touchOnly its identity touched.
func (t *Tracer) join(m *scoring.Mark, p *stay, touchOnly bool) {
	lo, hi, ok := t.dangerSpan(m, p)
	if !ok {
		return
	}
	pc := p.settled() // its id read once, not once per overlap
	t.eachAtPlace(p.place, lo, hi, func(q *stay) {
		kind, c, ok := t.pairContrib(m, &pc, q)
		if !ok {
			return
		}
		id := ident{exposed: q.person, source: m.Person, kind: kind, place: p.place}
		if touchOnly {
			t.touch(id)
		} else {
			t.contribute(id, &c)
		}
	})
}

// pairContrib returns the overlap of q's person, if any, with the dangerous
// stay p of m's person, and the kind of exposure it gives. Stays are closed intervals: the overlap is
// min(end) - max(start) of q and p clipped to the window; venues need
// CloseOverlap, cells CompanionOverlap, flights any common instant.
func (t *Tracer) pairContrib(m *scoring.Mark, p, q *stay) (kind scoring.ExposureKind, _ contrib, ok bool) {
	if q.person == p.person || p.end < t.cutoff || q.end < t.cutoff || !t.markLive(m) {
		return 0, contrib{}, false
	}
	cs, ce := max(p.start, m.From), min(p.end, windowEnd(m))
	os, oe := max(cs, q.start), min(ce, q.end)
	if cs > ce || os > oe {
		return 0, contrib{}, false
	}
	ov := oe - os
	switch t.places.kind[p.place] {
	case PlaceVenue:
		if ov < scoring.Time(t.closeOverlap) {
			return 0, contrib{}, false
		}
		kind = scoring.ExposureClose
	case PlaceCell:
		if m.Level != scoring.MarkCase || ov < scoring.Time(t.companionOverlap) {
			return 0, contrib{}, false
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
			return 0, contrib{}, false
		}
	default:
		return 0, contrib{}, false
	}
	if m.Level == scoring.MarkClose {
		if *t.people.key(q.person) == m.Source {
			return 0, contrib{}, false
		}
		kind = scoring.ExposureSecondary // the close definitions, one hop further
	}
	// The mark's end is the case's reported_at (a close mark's is its case's),
	// when the contact became known.
	return kind, contrib{start: os, end: oe, at: oe, wend: m.To, keep: max(p.end, q.end),
		evidence: [3]evid{{s: m.ID}, p.ev, q.ev}}, true
}
