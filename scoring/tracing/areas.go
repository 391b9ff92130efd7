package tracing

import "healthcode/scoring"

// Area risk uses the same join as contacts: a designation of a region or an H3
// cell is broadcast to every place partition and matched against the stays
// held there, retroactively; a stay arriving later is matched against the
// designations known. Country designations concern flight arrivals and are the
// engine's (Areas.CountryAt at arrived_at). The tracer is the one home of area
// risk: the engine sets no area fact from a stay itself.

// AddDesignation records a region or H3 designation and returns out with the
// area-risk exposure versions it gives or takes back. A designation is in
// force from its From until the earlier of its Until and the From of the next
// designation of the same area (Areas.Period), half-open, so a new one
// replaces the earlier one from its From on: every stay of the area that meets
// the time from its From to the next designation's From has its area
// exposures recomputed, so a lowered area (high, then low from day 5) retracts
// the exposures of stays after day 5 that only the high designation gave, and
// replaces those it shortened. A region designation counts travel stays of at
// least Params.RegionMinStay in the region; an H3 designation counts cell
// stays whose fine cell (or, for designations no finer than the companion
// resolution, whose companion cell) has the designated cell as parent, travel
// stays again only if long enough. Low designations expose nobody. An exact
// duplicate adds nothing.
func (t *Tracer) AddDesignation(d scoring.Designation, out []Exposure) []Exposure {
	if d.From == 0 || (d.Until != 0 && d.Until <= d.From) {
		return out
	}
	switch {
	case d.Kind == scoring.AreaRegion && d.Code != "":
	case d.Kind == scoring.AreaH3 && d.Cell != 0:
	default:
		return out
	}
	if !t.areas.Add(d) {
		return out
	}
	// The time whose designation changed: from d's start to the start of the
	// next designation of its area (d's own Until ends d, not the change: the
	// one it replaces could have run on).
	hi := scoring.MaxTime
	if next, ok := t.areas.Next(&d); ok {
		hi = next - 1
	}
	t.begin()
	touched := func(st *stay) {
		if !t.counts(st) {
			return
		}
		for _, k := range [...]scoring.ExposureKind{scoring.ExposureAreaHigh, scoring.ExposureAreaMedium} {
			t.touch(ident{exposed: st.person, kind: k, place: st.place})
		}
	}
	if d.Kind == scoring.AreaRegion {
		if place, ok := t.places.lookup(PlaceRegion, d.Code, 0); ok {
			t.eachAtPlace(place, d.From, hi, touched)
		}
	} else {
		res := scoring.H3Resolution(d.Cell)
		if res > t.companionRes {
			// Finer than the companion cell: one place, matched by fine cell.
			if place, ok := t.places.lookup(PlaceCell, "", scoring.H3Parent(d.Cell, t.companionRes)); ok {
				t.eachAtPlace(place, d.From, hi, func(st *stay) {
					if fine := t.locs.vari[st.loc] &^ locTravel; fine != 0 && scoring.H3Parent(fine, res) == d.Cell {
						touched(st)
					}
				})
			}
		} else {
			for place, kind := range t.places.kind {
				if kind == PlaceCell && t.places.refs[place] > 0 && scoring.H3Parent(t.places.cell[place], res) == d.Cell {
					t.eachAtPlace(uint32(place), d.From, hi, touched)
				}
			}
		}
	}
	if len(t.pend) == 0 {
		return out
	}
	return t.finish(out)
}

// counts reports whether a stay counts for area risk: a region stay only from
// a travel record, and otherwise as Params.CountsForArea says (the engine's
// rule for the same stays).
func (t *Tracer) counts(s *stay) bool {
	travel := t.locs.vari[s.loc]&locTravel != 0
	if t.places.kind[s.place] == PlaceRegion && !travel {
		return false
	}
	return t.params.CountsForArea(travel, s.start, s.end)
}

// areaRiskOf contributes the area exposures of a new region or cell stay
// under the designations known.
func (t *Tracer) areaRiskOf(s *stay) {
	t.areaContribs(s, func(kind scoring.ExposureKind, c *contrib) {
		t.contribute(ident{exposed: s.person, kind: kind, place: s.place}, c)
	})
}

// areaContribs passes to fn, for a counted region or cell stay, its overlap
// with every designation in force over it that exposes (Period.Overlaps):
// the stay clipped to the designated period, anchored at the stay's end.
func (t *Tracer) areaContribs(s *stay, fn func(scoring.ExposureKind, *contrib)) {
	if s.end < t.cutoff || !t.counts(s) {
		return
	}
	var region string
	var cell uint64
	switch t.places.kind[s.place] {
	case PlaceRegion:
		region = t.places.name[s.place]
	case PlaceCell:
		if cell = t.locs.vari[s.loc] &^ locTravel; cell == 0 {
			cell = t.places.cell[s.place]
		}
	default:
		return
	}
	t.areas.EachInForce(region, cell, s.start, s.end, func(d *scoring.Designation, per scoring.Period) {
		kind, ok := scoring.AreaExposure(d.Level)
		if !ok || !per.Overlaps(s.start, s.end) {
			return
		}
		c := contrib{start: max(s.start, d.From), end: s.end, at: s.end, keep: s.end, evidence: [3]evid{{s: d.ID}, s.ev}}
		if per.End != 0 && per.End < c.end {
			c.end = per.End
		}
		fn(kind, &c)
	})
}
