package scoring

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A return journey is declared in advance on src.declarations (origin, the
// flights, the port of entry, the destination region in the province, the
// planned arrival) and then matched with what flows already: the person's
// flight manifests (boarded, landed at the port), travel records, check-ins
// and province-bound manifests (arrived in the province), and the policy's
// arrival rules (in quarantine or home observation, released). The engine
// keeps one cold journey record per person who declared or flew
// (journeystate.go), derives the status from it at decision time, and emits
// a JourneyUpdate whenever what a journey row shows changes.

// Journey is a declared return journey, as carried by a KindJourney event.
type Journey struct {
	Origin  string   // ISO 3166-1 alpha-3 of the country the journey starts in
	City    string   // the city it starts in (free text)
	Flights []string // "NUMBER/DATE" of each leg, as on manifests (CA936/2020-03-16)
	Port    string   // IATA code of the port of entry in China
	Region  string   // GB/T 2260 code of the final destination in the province
	Planned Time     // planned arrival
}

// MaxJourneyFlights is the most legs a journey declaration lists.
const MaxJourneyFlights = 4

// JourneyEvent carries a journey declaration on hc.person-events: At is the
// declaration's occurred_at, End the planned arrival, Country the origin, Text
// the origin city, and Place "PORT REGION FLIGHT..." (space-separated: the
// port, the region, then each flight's NUMBER/DATE).
func JourneyEvent(person PersonKey, at Time, id, source string, j Journey) Event {
	var b strings.Builder
	b.WriteString(j.Port)
	b.WriteByte(' ')
	b.WriteString(j.Region)
	for _, f := range j.Flights {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	return Event{Person: person, Kind: KindJourney, At: at, End: j.Planned, Country: j.Origin,
		Text: j.City, Place: b.String(), ID: id, Source: source}
}

// Journey returns the journey carried by a KindJourney event. It fails when
// Place is not "PORT REGION FLIGHT..." with one to MaxJourneyFlights flights.
func (ev *Event) Journey() (Journey, error) {
	j := Journey{Origin: ev.Country, City: ev.Text, Planned: ev.End}
	port, rest, _ := strings.Cut(ev.Place, " ")
	region, flights, _ := strings.Cut(rest, " ")
	if len(port) != 3 || len(region) != 6 || flights == "" {
		return Journey{}, errors.New("journey: place is not PORT REGION FLIGHT")
	}
	j.Port, j.Region = port, region
	for f := range strings.SplitSeq(flights, " ") {
		if _, ok := flightDay(f); !ok {
			return Journey{}, fmt.Errorf("journey: flight %d is not NUMBER/DATE", len(j.Flights))
		}
		j.Flights = append(j.Flights, f)
	}
	if len(j.Flights) > MaxJourneyFlights {
		return Journey{}, fmt.Errorf("journey: more than %d flights", MaxJourneyFlights)
	}
	return j, nil
}

// flightDay returns the start (00:00 UTC) of the date of a flight's
// "NUMBER/DATE".
func flightDay(f string) (Time, bool) {
	num, date, ok := strings.Cut(f, "/")
	if !ok || num == "" {
		return 0, false
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return 0, false
	}
	t, err := TimeOf(d)
	return t, err == nil
}

// JourneyStatus is how far a declared journey has come.
type JourneyStatus uint8

// Journey statuses, in the order a journey passes them (wire values).
const (
	JourneyDeclared   JourneyStatus = iota + 1 // declared; no declared flight has departed
	JourneyBoarded                             // a manifest of the journey: departed, not yet arrived
	JourneyLanded                              // landed at the port from abroad; not yet in the province
	JourneyArrived                             // in the province; no arrival rule holds them
	JourneyQuarantine                          // in the province under an arrival rule (central quarantine or home observation)
	JourneyReleased                            // the arrival rules that held them have ended
)

var journeyStatusNames = [...]string{"", "declared", "boarded", "landed", "arrived", "quarantine", "released"}

func (s JourneyStatus) String() string {
	if s > 0 && int(s) < len(journeyStatusNames) {
		return journeyStatusNames[s]
	}
	return fmt.Sprintf("journey_status(%d)", s)
}

// JourneyStatusNames lists the statuses' names by value (index 0 is empty).
func JourneyStatusNames() []string { return journeyStatusNames[:] }

// JourneyUpdate is a journey row to publish: issued when anything it shows
// changes (the status, a step's time, the declaration, the rule applying).
// Times are 0 where a step is not reached.
type JourneyUpdate struct {
	Person    PersonKey
	Version   uint32 // rises by one with each update of this person's journey, from 1
	Status    JourneyStatus
	Effective Time   // when the update takes effect (the decision time)
	ID        string // event id of the declaration in force
	Journey   Journey
	// The steps: declared (the declaration's occurred_at), boarded (the
	// departure of the first leg), landed at the port (arrival from abroad),
	// arrived in the province, quarantine (an arrival rule holding them in
	// the province) and released (the end of the arrival rules).
	DeclaredAt, BoardedAt, LandedAt, ArrivedAt, QuarantineAt, ReleasedAt Time
	LandedPort                                                           string // IATA code of the airport they landed at from abroad
	LandedFlight                                                         string // NUMBER/DATE of that flight
	OtherFlight                                                          bool   // they landed on a flight they did not declare
	Rule                                                                 string // id of the arrival rule now applying, "" if none
}

// isArrivalFact reports whether rules of fact f are arrival rules: what holds
// a returnee in quarantine or home observation.
func isArrivalFact(f Fact) bool {
	switch f {
	case FactArrivalHigh, FactArrivalMedium, FactArrivalAbroad, FactArrivalUndeclared, FactArrivalOtherFlight:
		return true
	}
	return false
}

// journeyFacts are the journey facts of one person at a decision.
type journeyFacts struct {
	declared, undeclared, otherFlight anchor
}

// journeyFactsOf derives the journey facts from the facts and the journey
// record (nil if none):
//
//   - journey_declared: the declaration's time, while no leg of the journey
//     has landed from abroad;
//   - arrival_undeclared: the latest arrival from abroad, when no journey
//     declaration covers it (none, or one for a later trip);
//   - arrival_other_flight: the landing from abroad of a declared journey,
//     when its flight is not among the declared ones.
func (e *Engine) journeyFactsOf(ps *person) journeyFacts {
	var jf journeyFacts
	j := ps.j
	if j == nil {
		return jf
	}
	a := j.arrivals[0]
	if a.At != 0 && (j.declAt == 0 || a.At < j.floor) {
		jf.undeclared = anchor{at: a.At, ref: a.Ref}
	}
	if j.declAt == 0 {
		return jf
	}
	land, _ := e.journeyLegs(j)
	switch {
	case land == nil:
		jf.declared = anchor{at: j.declAt, ref: j.declRef}
	case !e.declaredFlight(j, land.place):
		jf.otherFlight = anchor{at: land.arrived, ref: land.id}
	}
	return jf
}

// journeyLegs picks a declared journey's legs among the person's recent
// flights that arrived at or after its floor: the landing (the leg from
// abroad: the earliest of a declared flight, else the earliest) and the
// boarding (the earliest leg of a declared flight, else the landing).
func (e *Engine) journeyLegs(j *journey) (land, board *leg) {
	for i := len(j.legs) - 1; i >= 0; i-- { // oldest first
		l := &j.legs[i]
		if l.arrived == 0 || l.arrived < j.floor {
			continue
		}
		declared := e.declaredFlight(j, l.place)
		if declared && board == nil {
			board = l
		}
		if l.origin == [3]byte{} || l.origin == [3]byte{'C', 'H', 'N'} {
			continue
		}
		if land == nil || (declared && !e.declaredFlight(j, land.place)) {
			land = l
		}
	}
	if board == nil {
		board = land
	}
	return land, board
}

// declaredFlight reports whether the flight of place (a Ref to NUMBER/DATE)
// is one of the journey's declared flights.
func (e *Engine) declaredFlight(j *journey, place Ref) bool {
	want := e.strs.Get(place)
	_, flights := splitJourneyPlace(e.strs.Get(j.placeRef))
	for f := range strings.SplitSeq(flights, " ") {
		if f == want {
			return true
		}
	}
	return false
}

// splitJourneyPlace splits a journey event's Place into "PORT REGION" and the
// space-separated flights.
func splitJourneyPlace(place string) (portRegion, flights string) {
	if len(place) < 11 {
		return place, ""
	}
	return place[:10], place[11:]
}
