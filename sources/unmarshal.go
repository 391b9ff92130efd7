package sources

import (
	"fmt"

	"healthcode/scoring"
)

// The entry of decoding: JSON into a stream's message struct in the scratch,
// by the reader of jsonscan.go and the shapes of jsonshapes.go, and the
// struct zeroed again after the call.

// unmarshal decodes value into the stream's message struct in the scratch,
// refusing what encoding/json refuses with the sentences it gave: its syntax
// errors (quoting at most the offending character) and type errors (naming
// the field).
func (c *call) unmarshal(value []byte) *RejectError {
	if i := invalidUTF8At(value); i >= 0 {
		return c.reject(RejectMalformed, "", fmt.Sprintf("not valid UTF-8 (byte %d), and the contract's JSON is UTF-8", i))
	}
	sc := c.sc
	r := &sc.json
	r.reset(value)
	if r.open('{', "") == isOpen {
		switch c.s {
		case StreamFlights:
			r.flightMsg(&sc.flight, &sc.used.passengers)
		case StreamTravel:
			r.travelMsg(&sc.travel)
		case StreamTests:
			r.testMsg(&sc.test)
		case StreamCheckins:
			r.checkinMsg(&sc.checkin)
		case StreamVaccinations:
			r.vaccinationMsg(&sc.vaccination)
		case StreamDeclarations:
			r.declarationMsg(&sc.declaration, sc)
		case StreamAreaRisk:
			r.areaRiskMsg(&sc.areaRisk)
		case StreamOverrides:
			r.overrideMsg(&sc.override)
		}
	}
	r.end()
	rej := c.jsonFault(r)
	r.release()
	return rej
}

// jsonFault returns the rejection for the reader's first fault, if any.
func (c *call) jsonFault(r *reader) *RejectError {
	switch t := &r.typ; {
	case r.syn.set:
		return c.reject(RejectMalformed, "", fmt.Sprintf("not valid JSON (byte %d: %s)", r.syn.off, r.syn.message()))
	case t.set && t.field == "":
		return c.reject(RejectMalformed, "", "the message must be a JSON object, not "+article(t.got))
	case t.set:
		return c.reject(RejectMalformed, t.field, "must be "+article(t.want)+", not "+article(t.got))
	}
	return nil
}

// article puts "a" or "an" before a JSON kind.
func article(kind string) string {
	switch kind {
	case "object", "array":
		return "an " + kind
	case "":
		return "that"
	}
	return "a " + kind
}

// scratchUse counts, for each slice of the scratch messages, the elements of
// its backing array the message being decoded has used (see array).
type scratchUse struct{ passengers, symptoms, flights int }

// clearMessage zeroes the stream's message struct for the next call.
func (sc *scratch) clearMessage(s Stream) {
	switch s {
	case StreamFlights:
		sc.flight = flightMsg{Passengers: keepScratch(sc.flight.Passengers, &sc.used.passengers, maxPassengers)}
	case StreamTravel:
		sc.travel = travelMsg{}
	case StreamTests:
		sc.test = testMsg{}
	case StreamCheckins:
		sc.checkin = checkinMsg{}
	case StreamVaccinations:
		sc.vaccination = vaccinationMsg{}
	case StreamDeclarations:
		sc.declaration = declarationMsg{Symptoms: keepScratch(sc.declaration.Symptoms, &sc.used.symptoms, maxSymptoms)}
		sc.dropJourney()
	case StreamAreaRisk:
		sc.areaRisk = areaRiskMsg{}
	case StreamOverrides:
		sc.override = overrideMsg{}
	}
}

// dropJourney zeroes the scratch journey, keeping its flights' capacity.
func (sc *scratch) dropJourney() {
	sc.journey = journeyJSON{Flights: keepScratch(sc.journey.Flights, &sc.used.flights, scoring.MaxJourneyFlights)}
}
