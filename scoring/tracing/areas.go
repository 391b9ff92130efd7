package tracing

import "healthcode/scoring"

// Area risk uses the same join as contacts: a designation of a region or an H3
// cell is broadcast to every place partition and matched against the stays
// held there, retroactively; a stay arriving later is matched against the
// designations known. Country designations concern flight arrivals and are the
// engine's (Areas.CountryAt at arrived_at).

// AddDesignation records a region or H3 designation and returns out with the
// area-risk exposures of the stays held that overlap its designated period:
// from its From until the earlier of its Until and the From of the next
// designation of the same area (Areas.Period), half-open. A region designation
// counts travel stays of at least Params.RegionMinStay in the region; an H3
// designation counts cell stays whose fine cell (or, for designations no finer
// than the companion resolution, whose companion cell) has the designated cell
// as parent, travel stays again only if long enough. Low designations record the
// period (they end an earlier one) but expose nobody. An exact duplicate adds
// nothing; a designation that shortens an earlier one does not take back the
// exposures already emitted.
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
	if _, exposes := scoring.AreaExposure(d.Level); !t.areas.Add(d) || !exposes {
		return out
	}
	per, _ := t.areas.Period(&d) // held: Add just took it
	hi := scoring.MaxTime
	if per.End != 0 {
		hi = per.End - 1
	}
	var hits []stay
	collect := func(s *segment, i int, e scoring.Time) {
		st := t.stayAt(s, i, e)
		if t.counts(&st) {
			hits = append(hits, st)
		}
	}
	if d.Kind == scoring.AreaRegion {
		if place, ok := t.places.lookup(PlaceRegion, d.Code, 0); ok {
			t.eachAtPlace(place, d.From, hi, collect)
		}
	} else {
		res := scoring.H3Resolution(d.Cell)
		if res > t.companionRes {
			// Finer than the companion cell: one place, matched by fine cell.
			if place, ok := t.places.lookup(PlaceCell, "", scoring.H3Parent(d.Cell, t.companionRes)); ok {
				t.eachAtPlace(place, d.From, hi, func(s *segment, i int, e scoring.Time) {
					if fine := t.locs.vari[s.loc[i]] &^ locTravel; fine != 0 && scoring.H3Parent(fine, res) == d.Cell {
						collect(s, i, e)
					}
				})
			}
		} else {
			for place, kind := range t.places.kind {
				if kind == PlaceCell && t.places.refs[place] > 0 && scoring.H3Parent(t.places.cell[place], res) == d.Cell {
					t.eachAtPlace(uint32(place), d.From, hi, collect)
				}
			}
		}
	}
	for i := range hits {
		out = t.areaExposure(&d, per, &hits[i], t.people.keys[hits[i].person], out)
	}
	return out
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

// areaRiskOf matches a new region or cell stay against the designations known.
func (t *Tracer) areaRiskOf(s *stay, person scoring.PersonKey, out []Exposure) []Exposure {
	if !t.counts(s) {
		return out
	}
	var region string
	var cell uint64
	if t.places.kind[s.place] == PlaceRegion {
		region = t.places.name[s.place]
	} else if cell = t.locs.vari[s.loc] &^ locTravel; cell == 0 {
		cell = t.places.cell[s.place]
	}
	t.areas.EachInForce(region, cell, s.start, s.end, func(d *scoring.Designation, per scoring.Period) {
		out = t.areaExposure(d, per, s, person, out)
	})
	return out
}

// areaExposure emits the exposure of a counted stay to designation d in force
// over per if they overlap (Period.Overlaps).
func (t *Tracer) areaExposure(d *scoring.Designation, per scoring.Period, s *stay, person scoring.PersonKey, out []Exposure) []Exposure {
	kind, ok := scoring.AreaExposure(d.Level)
	if !ok {
		return out
	}
	if !per.Overlaps(s.start, s.end) || s.end < t.cutoff {
		return out
	}
	x := Exposure{Exposed: person, Kind: kind, Start: max(s.start, d.From), End: s.end, At: s.end}
	if per.End != 0 && per.End < x.End {
		x.End = per.End
	}
	return t.emit(out, x, s.place, s.end, d.ID, s.eventID())
}
