package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
	"healthcode/sources"
)

// Contact-tracing ground truth. When Config.Contacts is set, Run keeps the
// presences of every message it emits (decoded back from the emitted JSON, so
// the truth is about what the pipeline receives, not about the simulator's
// internal stays) and, at the end, applies the contact definitions of docs/policies.md by
// brute force. It shares no code with the pipeline's tracer: it is the
// independent answer an end-to-end test compares the tracer's exposures with.
//
// Definitions, with the parameters of Config.Policy (the shipped policies'
// values in the text):
//   - A case is a person with a positive PCR result. The infectious window runs
//     from 2 days before the first positive sample (the earliest occurred_at of
//     the person's positive PCRs; on a tie, the earliest reported_at) to that
//     test's reported_at. Both ends are included.
//   - Presences: a check-in is a stay at its venue and in the resolution-8 H3
//     cell of its coordinates (the parent of their resolution-15 cell), from
//     occurred_at to left_at, or for 1 hour without left_at; a travel record
//     with a location is a stay in that cell, to left_at or for 24 hours; a
//     flight manifest puts each passenger on "NUMBER/DATE" from departed_at to
//     arrived_at at their seat row, or as crew.
//   - Stays are closed intervals. The overlap of a case's stay, clipped to the
//     window, with another person's stay at the same place is min(ends) -
//     max(starts) when not negative.
//   - Close contact: a venue overlap of 15 minutes or more; on a flight (any
//     common instant), a crew member, or a passenger within 3 rows of a
//     passenger case. Companion: a cell overlap of 10 minutes or more, or anyone
//     else on the flight (passengers of a crew case included).
//   - Secondary contact: for each close exposure of Y to case C, at the end of
//     its overlap, everyone other than Y and C who is a close contact of Y (the
//     close definitions, venues and flights only) within [that end, C's
//     reported_at]. Secondary contacts expose nobody.
//
// Each (exposed, source) pair is written once, with the first kind found in
// the order close_contact, companion, secondary_contact.

// Contact kinds, as written in Contact.Kind.
const (
	ContactClose     = "close_contact"
	ContactCompanion = "companion"
	ContactSecondary = "secondary_contact"
)

// contactKinds in order of precedence; index+1 is the rank a pair keeps (the
// lowest found).
var contactKinds = [...]string{ContactClose, ContactCompanion, ContactSecondary}

const (
	rankClose uint8 = iota + 1
	rankCompanion
	rankSecondary
)

// Contact is one line of the contact-tracing truth Run writes to
// Config.Contacts: Exposed was exposed to Source, by person key (docs/contract.md),
// never by raw identifier. Source is the case for close contacts and
// companions, the close contact for secondary contacts.
type Contact struct {
	Exposed string `json:"exposed_key"`
	Source  string `json:"source_key"`
	Kind    string `json:"kind"` // ContactClose, ContactCompanion or ContactSecondary
}

// ReadContacts reads the JSON lines Run writes to Config.Contacts. It checks
// every line: two 32-character lowercase hex keys that differ and a known
// kind.
func ReadContacts(r io.Reader) ([]Contact, error) {
	dec := json.NewDecoder(r)
	var out []Contact
	for line := 1; ; line++ {
		var c Contact
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("contact %d: %w", line, err)
		}
		for _, k := range [...]string{c.Exposed, c.Source} {
			if pk, err := scoring.ParsePersonKey(k); err != nil || pk.String() != k {
				return out, fmt.Errorf("contact %d: person key %q: want 32 lowercase hex characters", line, k)
			}
		}
		if c.Exposed == c.Source {
			return out, fmt.Errorf("contact %d: a person exposed to themselves", line)
		}
		if !slices.Contains(contactKinds[:], c.Kind) {
			return out, fmt.Errorf("contact %d: kind %q: want one of %s", line, c.Kind, strings.Join(contactKinds[:], ", "))
		}
		out = append(out, c)
	}
}

// ctParams are the policy parameters the truth applies (docs/policies.md, "Contact
// definitions"), in seconds, read from Config.Policy: its Contacts and the
// default stays of its Params.
type ctParams struct {
	infectiousBefore, closeOverlap, companionOverlap int64
	checkinStay, travelStay                          int64
	closeRows, companionRes                          int
}

func ctParamsOf(p *scoring.Policy) ctParams {
	sec := func(d scoring.Duration) int64 { return int64(d.Std() / time.Second) }
	return ctParams{
		infectiousBefore: sec(p.Contacts.InfectiousBefore),
		closeOverlap:     sec(p.Contacts.CloseOverlap),
		companionOverlap: sec(p.Contacts.CompanionOverlap),
		checkinStay:      sec(p.Params.CheckinDefaultStay),
		travelStay:       sec(p.Params.TravelDefaultStay),
		closeRows:        p.Contacts.CloseRows,
		companionRes:     p.Contacts.CompanionH3Res,
	}
}

// ctFineRes is the resolution of the cell the pipeline gives a coordinate
// (sources), of which the companion cell is the parent.
const ctFineRes = 15

// Place kinds of the truth's presences.
const (
	ctVenue uint8 = iota + 1
	ctCell
	ctFlight
)

const ctCrew int16 = -1

type ctPlace struct {
	kind uint8
	name string // venue id or "NUMBER/DATE"; "" for cells
	cell uint64
}

// ctStay is one presence: person and place index, a closed interval in Unix
// seconds, and the seat row on a flight.
type ctStay struct {
	start, end    int64
	person, place int32
	row           int16
}

// ctCase is the first positive PCR of a case.
type ctCase struct {
	sampled, reported int64
}

// contactTracer collects the presences and positive PCRs of the emitted
// messages and derives the truth at the end. It exists only when
// Config.Contacts is set: its memory grows with the messages (about 40 bytes a
// presence), so it is meant for small populations.
type contactTracer struct {
	key    []byte
	par    ctParams
	people map[scoring.PersonKey]int32
	keys   []scoring.PersonKey
	places map[ctPlace]int32
	kinds  []uint8 // place index -> kind
	stays  []ctStay
	cases  map[int32]ctCase
	aboard map[int32]bool // reused: who a manifest listed already
}

func newContactTracer(key []byte, p *scoring.Policy) *contactTracer {
	return &contactTracer{
		key:    key,
		par:    ctParamsOf(p),
		people: map[scoring.PersonKey]int32{},
		places: map[ctPlace]int32{},
		cases:  map[int32]ctCase{},
		aboard: map[int32]bool{},
	}
}

// observing returns emit preceded by the tracer's look at each message.
func (t *contactTracer) observing(emit func(Message) error) func(Message) error {
	return func(m Message) error {
		if err := t.observe(m); err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
		return emit(m)
	}
}

// ctPerson, ctMessage: the contract's fields the truth reads.
type ctPerson struct {
	IDType   string `json:"id_type"`
	IDNumber string `json:"id_number"`
}

type ctLatLng struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

type ctMessage struct {
	OccurredAt time.Time  `json:"occurred_at"`
	Person     ctPerson   `json:"person"`
	LeftAt     *time.Time `json:"left_at"`
	Venue      *struct {
		ID string `json:"id"`
		ctLatLng
	} `json:"venue"`
	Location *ctLatLng `json:"location"`
	Test     *struct {
		Kind       string    `json:"kind"`
		Result     string    `json:"result"`
		ReportedAt time.Time `json:"reported_at"`
	} `json:"test"`
	Flight *struct {
		Number     string    `json:"number"`
		Date       string    `json:"date"`
		DepartedAt time.Time `json:"departed_at"`
		ArrivedAt  time.Time `json:"arrived_at"`
	} `json:"flight"`
	Passengers []struct {
		Person ctPerson `json:"person"`
		Seat   string   `json:"seat"`
	} `json:"passengers"`
}

// observe records the presences or the positive PCR of one emitted message.
func (t *contactTracer) observe(m Message) error {
	switch m.Stream {
	case sources.StreamCheckins, sources.StreamTravel, sources.StreamTests, sources.StreamFlights:
	default:
		return nil
	}
	var v ctMessage
	if err := json.Unmarshal(m.Value, &v); err != nil {
		return fmt.Errorf("decode %s message: %w", m.Stream, err)
	}
	occ := v.OccurredAt.Unix()
	switch m.Stream {
	case sources.StreamCheckins:
		if v.Venue == nil {
			return errors.New("check-in without a venue")
		}
		p := t.person(v.Person)
		start, end := occ, stayEnd(occ, v.LeftAt, t.par.checkinStay)
		t.add(p, ctPlace{kind: ctVenue, name: v.Venue.ID}, start, end, 0)
		t.add(p, ctPlace{kind: ctCell, cell: t.companionCell(v.Venue.ctLatLng)}, start, end, 0)
	case sources.StreamTravel:
		if v.Location == nil {
			return nil // a region stay: area risk only
		}
		end := stayEnd(occ, v.LeftAt, t.par.travelStay)
		t.add(t.person(v.Person), ctPlace{kind: ctCell, cell: t.companionCell(*v.Location)}, occ, end, 0)
	case sources.StreamTests:
		if v.Test == nil {
			return errors.New("test result without a test")
		}
		if v.Test.Kind != "pcr" || v.Test.Result != "positive" {
			return nil
		}
		p := t.person(v.Person)
		c := ctCase{sampled: occ, reported: v.Test.ReportedAt.Unix()}
		if old, ok := t.cases[p]; !ok || c.sampled < old.sampled || (c.sampled == old.sampled && c.reported < old.reported) {
			t.cases[p] = c
		}
	case sources.StreamFlights:
		f := v.Flight
		if f == nil {
			return errors.New("flight manifest without a flight")
		}
		place := ctPlace{kind: ctFlight, name: f.Number + "/" + f.Date}
		clear(t.aboard)
		for _, x := range v.Passengers {
			row, err := seatRowOf(x.Seat)
			if err != nil {
				return err
			}
			p := t.person(x.Person)
			if t.aboard[p] {
				continue // listed twice: the first entry stands
			}
			t.aboard[p] = true
			t.add(p, place, f.DepartedAt.Unix(), f.ArrivedAt.Unix(), row)
		}
	}
	return nil
}

func stayEnd(start int64, left *time.Time, def int64) int64 {
	if left == nil {
		return start + def
	}
	return max(left.Unix(), start)
}

// companionCell is the companion-resolution cell of a coordinate, as the
// parent of its resolution-15 cell.
func (t *contactTracer) companionCell(ll ctLatLng) uint64 {
	return uint64(h3.LatLngToCell(h3.NewLatLng(ll.Lat, ll.Lng), ctFineRes).Parent(t.par.companionRes))
}

// seatRowOf parses "23C" as row 23 and "CREW" as ctCrew.
func seatRowOf(seat string) (int16, error) {
	if seat == "CREW" {
		return ctCrew, nil
	}
	n := len(seat)
	if n >= 2 && seat[n-1] >= 'A' && seat[n-1] <= 'K' {
		if row, err := strconv.ParseUint(seat[:n-1], 10, 15); err == nil && row > 0 {
			return int16(row), nil
		}
	}
	return 0, fmt.Errorf("seat %q: want a row and a letter or CREW", seat)
}

func (t *contactTracer) person(p ctPerson) int32 {
	k := sources.PersonKey(t.key, p.IDType, p.IDNumber)
	x, ok := t.people[k]
	if !ok {
		x = int32(len(t.keys))
		t.people[k] = x
		t.keys = append(t.keys, k)
	}
	return x
}

func (t *contactTracer) add(person int32, pl ctPlace, start, end int64, row int16) {
	x, ok := t.places[pl]
	if !ok {
		x = int32(len(t.kinds))
		t.places[pl] = x
		t.kinds = append(t.kinds, pl.kind)
	}
	t.stays = append(t.stays, ctStay{start: start, end: end, person: person, place: x, row: row})
}

// closeRows reports whether the seat rows of a dangerous person (pr) and
// someone on board (qr) make a close contact: every crew member, and a
// passenger within the policy's close rows of a passenger.
func (t *contactTracer) closeRows(pr, qr int16) bool {
	if qr == ctCrew {
		return true
	}
	return pr != ctCrew && abs(int(pr)-int(qr)) <= t.par.closeRows
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// copresent calls fn for every stay q of someone other than person at the
// place of one of person's stays, with the overlap [os, oe] of q and that stay
// clipped to [from, to] (any common instant: os <= oe).
func (t *contactTracer) copresent(person int32, from, to int64, byPerson, byPlace [][]int32,
	fn func(p, q *ctStay, os, oe int64)) {
	for _, i := range byPerson[person] {
		p := &t.stays[i]
		cs, ce := max(p.start, from), min(p.end, to)
		if cs > ce {
			continue
		}
		for _, j := range byPlace[p.place] {
			q := &t.stays[j]
			if q.person == person {
				continue
			}
			if os, oe := max(cs, q.start), min(ce, q.end); os <= oe {
				fn(p, q, os, oe)
			}
		}
	}
}

// derive applies the definitions to everything observed and returns the
// contacts sorted by (exposed, source) key.
func (t *contactTracer) derive() []Contact {
	byPerson := make([][]int32, len(t.keys))
	byPlace := make([][]int32, len(t.kinds))
	for i := range t.stays {
		s := &t.stays[i]
		byPerson[s.person] = append(byPerson[s.person], int32(i))
		byPlace[s.place] = append(byPlace[s.place], int32(i))
	}
	ranks := map[[2]int32]uint8{}
	note := func(exposed, source int32, rank uint8) {
		k := [2]int32{exposed, source}
		if r, ok := ranks[k]; !ok || rank < r {
			ranks[k] = rank
		}
	}
	type closeExposure struct{ exposed, source int32 }
	firstClose := map[closeExposure]int64{} // earliest end of a close overlap
	for c, w := range t.cases {
		t.copresent(c, w.sampled-t.par.infectiousBefore, w.reported, byPerson, byPlace, func(p, q *ctStay, os, oe int64) {
			var rank uint8
			switch t.kinds[p.place] {
			case ctVenue:
				if oe-os >= t.par.closeOverlap {
					rank = rankClose
				}
			case ctCell:
				if oe-os >= t.par.companionOverlap {
					rank = rankCompanion
				}
			case ctFlight:
				rank = rankCompanion
				if t.closeRows(p.row, q.row) {
					rank = rankClose
				}
			}
			if rank == 0 {
				return
			}
			note(q.person, c, rank)
			if rank == rankClose {
				k := closeExposure{q.person, c}
				if at, ok := firstClose[k]; !ok || oe < at {
					firstClose[k] = oe
				}
			}
		})
	}
	// The windows of a close contact's exposures to one case all end at the
	// case's reported_at: the earliest exposure's window holds the others.
	for x, at := range firstClose {
		y, c := x.exposed, x.source
		t.copresent(y, at, t.cases[c].reported, byPerson, byPlace, func(p, q *ctStay, os, oe int64) {
			if q.person == c {
				return
			}
			switch t.kinds[p.place] {
			case ctVenue:
				if oe-os >= t.par.closeOverlap {
					note(q.person, y, rankSecondary)
				}
			case ctFlight:
				// A window that only touches the leg at the arrival (the
				// close contact's own exposure time) exposes no one again.
				if oe > os && t.closeRows(p.row, q.row) {
					note(q.person, y, rankSecondary)
				}
			}
		})
	}
	out := make([]Contact, 0, len(ranks))
	for k, r := range ranks {
		out = append(out, Contact{Exposed: t.keys[k[0]].String(), Source: t.keys[k[1]].String(), Kind: contactKinds[r-1]})
	}
	slices.SortFunc(out, func(a, b Contact) int {
		if c := strings.Compare(a.Exposed, b.Exposed); c != 0 {
			return c
		}
		return strings.Compare(a.Source, b.Source)
	})
	return out
}

// write derives the contacts and writes them as JSON lines.
func (t *contactTracer) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, c := range t.derive() {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return bw.Flush()
}
