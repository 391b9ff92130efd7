package scoring

import "sort"

// Area risk uses the same join as contacts: a designation of a region or an H3
// cell is broadcast to every place partition and matched against the stays
// held there, retroactively; a stay arriving later is matched against the
// designations known. Country designations concern flight arrivals and are the
// engine's (Areas.CountryAt at arrived_at).

// AddDesignation records a region or H3 designation and returns out with the
// area-risk exposures of the stays held that overlap its designated period:
// from its From until the earlier of its Until and the From of the next
// designation of the same area (Areas' rule), half-open. A region designation
// counts travel stays of at least Params.RegionMinStay in the region; an H3
// designation counts cell stays whose fine cell (or, for designations no finer
// than the companion resolution, whose companion cell) has the designated cell
// as parent, travel stays again only if long enough. Low designations record the
// period (they end an earlier one) but expose nobody. An exact duplicate adds
// nothing; a designation that shortens an earlier one does not take back the
// exposures already emitted.
func (t *Tracer) AddDesignation(d Designation, out []Exposure) []Exposure {
	if d.From == 0 || (d.Until != 0 && d.Until <= d.From) {
		return out
	}
	switch {
	case d.Kind == AreaRegion && d.Code != "":
	case d.Kind == AreaH3 && d.Cell != 0:
	default:
		return out
	}
	if !t.areas.Add(d) || (d.Level != RiskHigh && d.Level != RiskMedium) {
		return out
	}
	k := keyOf(&d)
	list := t.areas.byArea[k]
	i := sort.Search(len(list), func(i int) bool { return list[i].From >= d.From })
	end := periodEnd(list, i)
	dd := &list[i]
	hi := MaxTime
	if end != 0 {
		hi = end - 1
	}
	var hits []stay
	collect := func(s *segment, i int, e Time) {
		st := t.stayAt(s, i, e)
		if t.counts(&st) {
			hits = append(hits, st)
		}
	}
	if d.Kind == AreaRegion {
		if place, ok := t.places.lookup(PlaceRegion, d.Code, 0); ok {
			t.eachAtPlace(place, d.From, hi, collect)
		}
	} else {
		res := h3Resolution(d.Cell)
		if res > t.companionRes {
			// Finer than the companion cell: one place, matched by fine cell.
			if place, ok := t.places.lookup(PlaceCell, "", H3Parent(d.Cell, t.companionRes)); ok {
				t.eachAtPlace(place, d.From, hi, func(s *segment, i int, e Time) {
					if fine := t.locs.vari[s.loc[i]] &^ locTravel; fine != 0 && H3Parent(fine, res) == d.Cell {
						collect(s, i, e)
					}
				})
			}
		} else {
			for place, kind := range t.places.kind {
				if kind == PlaceCell && t.places.refs[place] > 0 && H3Parent(t.places.cell[place], res) == d.Cell {
					t.eachAtPlace(uint32(place), d.From, hi, collect)
				}
			}
		}
	}
	for i := range hits {
		out = t.areaExposure(dd, end, &hits[i], t.people.keys[hits[i].person], out)
	}
	return out
}

// periodEnd is when designation i of an area's list stops being in force
// (exclusive; 0 = open).
func periodEnd(list []Designation, i int) Time {
	end := list[i].Until
	if i+1 < len(list) && (end == 0 || list[i+1].From < end) {
		end = list[i+1].From
	}
	return end
}

// counts reports whether a stay counts for area risk: a region stay only from a
// travel record, and a travel stay only if at least RegionMinStay long (the
// itinerary-card rule, applied as the engine applies it to a travel record's
// region and cell alike).
func (t *Tracer) counts(s *stay) bool {
	travel := t.locs.vari[s.loc]&locTravel != 0
	if t.places.kind[s.place] == PlaceRegion && !travel {
		return false
	}
	return !travel || uint32(s.end-s.start) >= t.regionMinStay
}

// areaRiskOf matches a new region or cell stay against the designations known.
func (t *Tracer) areaRiskOf(s *stay, person PersonKey, out []Exposure) []Exposure {
	if len(t.areas.byArea) == 0 || !t.counts(s) {
		return out
	}
	match := func(k areaKey) {
		list := t.areas.byArea[k]
		for i := range list {
			if list[i].From > s.end {
				break
			}
			out = t.areaExposure(&list[i], periodEnd(list, i), s, person, out)
		}
	}
	if t.places.kind[s.place] == PlaceRegion {
		match(areaKey{kind: AreaRegion, code: t.places.name[s.place]})
		return out
	}
	if t.areas.h3Res == 0 {
		return out
	}
	cell := t.locs.vari[s.loc] &^ locTravel
	if cell == 0 {
		cell = t.places.cell[s.place]
	}
	for r := 0; r <= h3Resolution(cell); r++ {
		if t.areas.h3Res&(1<<r) != 0 {
			match(areaKey{kind: AreaH3, cell: H3Parent(cell, r)})
		}
	}
	return out
}

// areaExposure emits the exposure of a counted stay to designation d in force
// until end (exclusive, 0 = open) if they overlap. Both are half-open; a stay
// of no length is the instant it starts (as in Areas).
func (t *Tracer) areaExposure(d *Designation, end Time, s *stay, person PersonKey, out []Exposure) []Exposure {
	var kind ExposureKind
	switch d.Level {
	case RiskHigh:
		kind = ExposureAreaHigh
	case RiskMedium:
		kind = ExposureAreaMedium
	default:
		return out
	}
	last := s.start // the stay's last second
	if s.end > s.start {
		last = s.end - 1
	}
	if d.From > last || (end != 0 && end <= s.start) || s.end < t.cutoff {
		return out
	}
	x := Exposure{Exposed: person, Kind: kind, Start: max(s.start, d.From), End: s.end, At: s.end}
	if end != 0 && end < x.End {
		x.End = end
	}
	return t.emit(out, x, s.place, s.end, d.ID, s.eventID())
}
