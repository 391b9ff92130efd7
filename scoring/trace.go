package scoring

import (
	"strconv"
	"time"
)

// Contact tracing is a repartition join (DESIGN.md §3): presences are re-keyed by
// place, so everything needed to find who shared a venue, an H3 cell or a flight
// with a dangerous person is local to one place partition. Each place partition
// owns one Tracer; marks (people whose presences became dangerous) and area
// designations are broadcast to every partition.
//
// The Tracer is pure: no I/O, no clock, no goroutines. One goroutine owns it.

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
	Person PersonKey
	Kind   PlaceKind
	Place  string // venue id, region code, or "NUMBER/DATE" for a flight; "" for a cell
	Cell   uint64 // PlaceCell: the H3 cell at the companion resolution (the place)
	Fine   uint64 // PlaceCell: the finer cell it came from (resolution 15), 0 if unknown
	Start  Time   // stay start (flight: departed_at)
	End    Time   // stay end with defaults applied (flight: arrived_at)
	Row    int16  // PlaceFlight: seat row, RowCrew for crew
	Travel bool   // from a travel record: counts for area risk only if at least Params.RegionMinStay long
	ID     string // the upstream event id (evidence)
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
func PresencesOf(ev *Event, p *Policy) []Presence {
	switch ev.Kind {
	case KindCheckin, KindTravel:
		if ev.At == 0 {
			return nil
		}
		end, def := ev.End, p.Params.CheckinDefaultStay
		if ev.Kind == KindTravel {
			def = p.Params.TravelDefaultStay
		}
		if end == 0 {
			end = ev.At.Add(def.Std())
		}
		end = max(end, ev.At)
		base := Presence{Person: ev.Person, Start: ev.At, End: end, ID: ev.ID, Travel: ev.Kind == KindTravel}
		out := make([]Presence, 0, 2)
		if ev.Place != "" {
			pr := base
			pr.Kind, pr.Place = PlaceVenue, ev.Place
			if ev.Kind == KindTravel {
				pr.Kind = PlaceRegion
			}
			out = append(out, pr)
		}
		if ev.Cell != 0 {
			pr := base
			pr.Kind, pr.Cell, pr.Fine = PlaceCell, H3Parent(ev.Cell, p.Contacts.CompanionH3Res), ev.Cell
			out = append(out, pr)
		}
		return out
	case KindArrival:
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

// MarkLevel is why a person's presences are dangerous.
type MarkLevel uint8

// Mark levels. Exposure level falls by one per hop: a case's co-presents are
// close contacts or companions; a close contact's co-presents (by the close
// definitions) are secondary contacts; secondary contacts mark nobody.
const (
	MarkCase  MarkLevel = iota + 1 // a confirmed case (positive PCR)
	MarkClose                      // a close contact of a case
)

// Mark says that Person's presences in [From, To] are dangerous.
type Mark struct {
	Person PersonKey
	Level  MarkLevel
	// From..To is the dangerous window, both ends included. For a case, from
	// Contacts.InfectiousBefore before the first positive sample to its
	// reported_at; for a close contact, from its exposure time to the case's
	// reported_at. To == 0 means open-ended (reported_at unknown).
	From, To Time
	Source   PersonKey // MarkClose: the case
	ID       string    // evidence: the positive PCR event id, or the close-contact exposure id
}

// CaseMark is the mark of a case whose first positive PCR was sampled at
// sampled and reported at reported (0 if unknown), from event id.
func CaseMark(person PersonKey, sampled, reported Time, id string, p *Policy) Mark {
	return Mark{Person: person, Level: MarkCase, From: sampled.Add(-p.Contacts.InfectiousBefore.Std()), To: reported, ID: id}
}

// CloseMark is the mark a close-contact exposure puts on the exposed person:
// dangerous from the exposure to the case's reported_at. ok is false for other
// exposure kinds (the chain stops at secondary contacts; companions and area
// risk mark nobody).
func CloseMark(x *Exposure) (m Mark, ok bool) {
	if x.Kind != ExposureClose {
		return Mark{}, false
	}
	return Mark{Person: x.Exposed, Level: MarkClose, From: x.At, To: x.WindowEnd, Source: x.Source, ID: x.ID}, true
}

// Exposure is one person exposed at one place, found by the tracer.
type Exposure struct {
	Exposed PersonKey
	// Source is the marked person whose presence was dangerous: the case for
	// close contacts and companions, the close contact for secondary contacts;
	// zero for area risk.
	Source PersonKey
	Kind   ExposureKind
	Place  string // the place key (Presence.PlaceKey)
	// Start..End is the overlap of the two stays within the dangerous window;
	// for area risk, the stay within the designated period.
	Start, End Time
	// At is the time the engine anchors on: the end of the overlap for contacts,
	// the end of the stay for area risk (POLICY: "14 days after the stay ends").
	At Time
	// WindowEnd is, for ExposureClose, the case's reported_at: the end of the
	// window in which this person's own contacts are secondary. 0 otherwise or
	// when unknown.
	WindowEnd Time
	// Evidence: the mark's id (or the designation's id) and the event ids of the
	// presences involved, dangerous one first.
	Evidence []string
	// ID is deterministic from (Exposed, Source, Kind, Place, Start, End), so
	// duplicates downstream collapse.
	ID string
}

// Event is the exposure as a person event for the scoring engine (KindExposure).
func (x *Exposure) Event() Event {
	ev := Event{Person: x.Exposed, Kind: KindExposure, Sub: uint8(x.Kind), At: x.At, End: x.WindowEnd,
		Place: x.Place, ID: x.ID, Source: "tracing"}
	if x.Source != (PersonKey{}) {
		ev.Text = x.Source.String() // the engine's close mark names the case behind it
	}
	return ev
}

// TracerOptions configure a Tracer. The zero value is valid.
type TracerOptions struct {
	// Expected is the number of presences to pre-size for; default 0 (grow as
	// needed).
	Expected int
}

// Tracer is the contact-tracing join of one place partition: an index of who
// was where and when, the marks and designations it knows, and the exposures
// already emitted (each is emitted once).
//
// Memory: presences are kept in segments of up to 65,535 records, column by
// column and pointer-free: start (4 bytes), duration (2), location (4), person
// (4), event id as a per-segment prefix and 32-bit number (5), sorted by
// (place, start) once full, with a 16-bit person-order permutation (2): 21
// bytes a presence, plus the tables of people (about 28 bytes each), places
// and locations. bench/trace_test.go measures about 23 bytes a presence at 50
// million presences (2.5 million people).
type Tracer struct {
	closeOverlap, companionOverlap, regionMinStay, lookback uint32 // seconds
	closeRows                                               int
	companionRes                                            int

	people  personTable
	places  placeTable
	locs    locTable
	areas   *Areas
	segs    []*segment            // sealed, oldest first
	byHour  map[uint32][]*segment // sealed segments holding a start in that hour
	act     builder               // the segment being filled
	cutoff  Time                  // presences ending before this are expired
	marks   map[PersonKey][]Mark
	hot     map[uint32][]hotStay // place -> presences of marked people there
	emitted map[uint64]Time      // exposure id hash -> when it can be forgotten
	swept   Time                 // cutoff at the last sweep of emitted
	held    int                  // presences held in sealed segments
}

// hotStay is a presence of a marked person at a contact place, kept so that a
// presence arriving later at that place is matched at once.
type hotStay struct {
	stay
	key PersonKey
}

// NewTracer returns an empty tracer for policy p (already validated).
func NewTracer(p *Policy, o TracerOptions) *Tracer {
	sec := func(d Duration) uint32 { return uint32(d.Std() / time.Second) }
	t := &Tracer{
		closeOverlap:     sec(p.Contacts.CloseOverlap),
		companionOverlap: sec(p.Contacts.CompanionOverlap),
		regionMinStay:    sec(p.Params.RegionMinStay),
		lookback:         sec(p.Contacts.Lookback),
		closeRows:        p.Contacts.CloseRows,
		companionRes:     p.Contacts.CompanionH3Res,
		areas:            NewAreas(),
		byHour:           map[uint32][]*segment{},
		marks:            map[PersonKey][]Mark{},
		hot:              map[uint32][]hotStay{},
		emitted:          map[uint64]Time{},
	}
	if o.Expected > 0 {
		// About 20 presences per person and 250 per location in a partition.
		t.people.init(o.Expected / 20)
		t.segs = make([]*segment, 0, o.Expected/segCap+1)
	}
	t.act.init()
	return t
}

// Len is the number of presences held. Expired presences never match after
// Expire; their memory is reclaimed in bulk (a whole segment once all of it has
// expired, or a rewrite once half of it has).
func (t *Tracer) Len() int { return t.held + t.act.seg.n() }

// Bytes is the memory held by the index: presence columns, event ids, the
// tables of people, places and locations, marks and emitted exposures. Go map
// overheads are estimated.
func (t *Tracer) Bytes() int {
	n := t.act.bytes() + t.people.bytes() + t.places.bytes() + t.locs.bytes()
	for _, s := range t.segs {
		n += s.bytes()
	}
	n += len(t.byHour) * 48
	for _, l := range t.byHour {
		n += cap(l) * 8
	}
	for _, l := range t.marks {
		n += 48 + cap(l)*64
	}
	for _, l := range t.hot {
		n += 48 + cap(l)*64
	}
	n += len(t.emitted) * 24
	return n
}
