package tracing

import (
	"strconv"

	"healthcode/scoring"
)

// PlaceKind is the kind of place a presence is at.
type PlaceKind uint8

// Place kinds.
const (
	PlaceVenue  PlaceKind = iota + 1 // a venue, by venue id
	PlaceCell                        // an H3 cell at the policy's companion resolution
	PlaceRegion                      // a GB/T 2260 region, by code (area risk only)
	PlaceFlight                      // a flight, by "NUMBER/DATE"
)

func (k PlaceKind) valid() bool { return k >= PlaceVenue && k <= PlaceFlight }

// Presence is one person at one place for one stay: the unit of hc.presence.
type Presence struct {
	Person scoring.PersonKey
	Kind   PlaceKind
	Place  string       // venue id, region code, or "NUMBER/DATE" for a flight; "" for a cell
	Cell   uint64       // PlaceCell: the H3 cell at the companion resolution (the place)
	Fine   uint64       // PlaceCell: the finer cell it came from (resolution 15), 0 if unknown
	Start  scoring.Time // stay start (flight: departed_at)
	End    scoring.Time // stay end with defaults applied (flight: arrived_at)
	Row    int16        // PlaceFlight: seat row, RowCrew for crew
	Travel bool         // from a travel record: counts for area risk only if at least Params.RegionMinStay long
	ID     string       // the upstream event id (evidence)
}

// PlaceKey is the stable text key of the presence's place, used to partition
// hc.presence and to name the place of an exposure: "v:<venue id>",
// "c:<H3 cell in hex>", "r:<region code>" or "f:<NUMBER/DATE>".
func (p *Presence) PlaceKey() string { return placeKey(p.Kind, p.Place, p.Cell) }

func placeKey(k PlaceKind, name string, cell uint64) string {
	switch k {
	case PlaceVenue:
		return "v:" + name
	case PlaceCell:
		return "c:" + strconv.FormatUint(cell, 16)
	case PlaceRegion:
		return "r:" + name
	case PlaceFlight:
		return "f:" + name
	}
	return ""
}

// PresencesOf derives the presences of a person event under policy p:
//   - check-in: the venue, and its companion-resolution cell when ev.Cell != 0;
//     a stay without left_at lasts Params.CheckinDefaultStay;
//   - travel: the region (Travel set), and the cell when ev.Cell != 0; a stay
//     without left_at lasts Params.TravelDefaultStay;
//   - flight arrival: the flight, from departed_at (ev.End) to arrived_at (ev.At),
//     at the seat row; without departed_at the presence is the arrival instant.
//
// Other kinds give none. A left_at before the start is taken as the start.
func PresencesOf(ev *scoring.Event, p *scoring.Policy) []Presence {
	switch ev.Kind {
	case scoring.KindCheckin, scoring.KindTravel:
		if ev.At == 0 {
			return nil
		}
		end := max(p.Params.StayEnd(ev.Kind == scoring.KindTravel, ev.At, ev.End), ev.At)
		base := Presence{Person: ev.Person, Start: ev.At, End: end, ID: ev.ID, Travel: ev.Kind == scoring.KindTravel}
		out := make([]Presence, 0, 2)
		if ev.Place != "" {
			pr := base
			pr.Kind, pr.Place = PlaceVenue, ev.Place
			if ev.Kind == scoring.KindTravel {
				pr.Kind = PlaceRegion
			}
			out = append(out, pr)
		}
		if ev.Cell != 0 {
			pr := base
			pr.Kind, pr.Cell, pr.Fine = PlaceCell, scoring.H3Parent(ev.Cell, p.Contacts.CompanionH3Res), ev.Cell
			out = append(out, pr)
		}
		return out
	case scoring.KindArrival:
		if ev.Place == "" || ev.At == 0 {
			return nil
		}
		start := ev.End
		if start == 0 || start > ev.At {
			start = ev.At
		}
		return []Presence{{Person: ev.Person, Kind: PlaceFlight, Place: ev.Place, Start: start, End: ev.At, Row: ev.Row, ID: ev.ID}}
	}
	return nil
}
