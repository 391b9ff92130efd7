package sources

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

// cellRes is the H3 resolution of venue and location cells.
const cellRes = 15

// maxFlight is the longest flight leg accepted (departed_at to arrived_at).
const maxFlight = 48 * 3600

// flight fans a manifest out to one KindArrival event per distinct passenger.
func (c *call) flight(m *flightMsg, out *Batch) *RejectError {
	id, source, _, r := c.envelope(&m.envelope)
	if r != nil {
		return r
	}
	f := &m.Flight
	if f.Number.st == textAbsent && f.Date.st == textAbsent && f.ArrivedAt.st == timeAbsent {
		return c.reject(RejectMissing, "flight", "is required")
	}
	number, r := c.text("flight.number", &f.Number, true)
	if r != nil {
		return r
	}
	if !flightNumber(number) {
		return c.reject(RejectInvalid, "flight.number", "must be an airline designator and 1-4 digits, like CA936")
	}
	date, r := c.text("flight.date", &f.Date, true)
	if r != nil {
		return r
	}
	dateDays, ok := parseDate(date)
	if !ok {
		return c.reject(RejectInvalid, "flight.date", "must be a calendar date YYYY-MM-DD")
	}
	var airports [2][]byte
	for i, a := range [...]struct {
		name string
		t    *text
	}{{"flight.origin_airport", &f.OriginAirport}, {"flight.destination_airport", &f.DestinationAirport}} {
		b, r := c.text(a.name, a.t, true)
		if r != nil {
			return r
		}
		if !isAlpha3(b) {
			return c.reject(RejectInvalid, a.name, "must be a three-letter IATA airport code like HGH")
		}
		airports[i] = b
	}
	if bytes.Equal(airports[0], airports[1]) {
		return c.reject(RejectInvalid, "flight.destination_airport", "must differ from flight.origin_airport")
	}
	country, r := c.text("flight.origin_country", &f.OriginCountry, true)
	if r != nil {
		return r
	}
	if !isAlpha3(country) {
		return c.reject(RejectInvalid, "flight.origin_country", "must be an ISO 3166-1 alpha-3 code like DEU")
	}
	departed, r := c.observed("flight.departed_at", &f.DepartedAt, true)
	if r != nil {
		return r
	}
	arrived, r := c.observed("flight.arrived_at", &f.ArrivedAt, true)
	if r != nil {
		return r
	}
	switch {
	case arrived <= departed:
		return c.reject(RejectTime, "flight.arrived_at", "is not after flight.departed_at")
	case arrived-departed > maxFlight:
		return c.reject(RejectTime, "flight.arrived_at", "is more than 48 hours after flight.departed_at, longer than any flight")
	}
	// The date is the departure's local date, within a day of its UTC date
	// (offsets reach ±14 h); a day more either side allows for delays.
	if day := func(t scoring.Time) int64 { return (int64(t) + scoring.Epoch) / 86400 }; dateDays < day(departed)-1 || dateDays > day(arrived)+1 {
		return c.reject(RejectInvalid, "flight.date", "does not match the flight's times: it must lie between the day before departed_at and the day after arrived_at")
	}
	switch n := len(m.Passengers); {
	case n == 0:
		return c.reject(RejectMissing, "passengers", "must list at least one passenger")
	case n > maxPassengers:
		return c.reject(RejectInvalid, "passengers", fmt.Sprintf("lists more than %d passengers", maxPassengers))
	}

	place := string(number) + "/" + string(date)
	countryS, dest := c.sc.intern(country), c.sc.intern(airports[1])
	start := len(out.Events)
	seen, first := c.sc.seen, c.sc.first[:0]
	useMap := len(m.Passengers) > 16
	if useMap {
		clear(seen)
	}
	defer func() { c.sc.first = first[:0] }()
	for i := range m.Passengers {
		p := &m.Passengers[i]
		c.passenger = i
		key, r := c.person(&p.Person)
		if r != nil {
			return r
		}
		seat, r := c.text("seat", &p.Seat, true)
		if r != nil {
			return r
		}
		row, ok := seatRow(seat)
		if !ok {
			return c.reject(RejectInvalid, "seat", "must be a row number and a letter A-K (like 23C) or CREW")
		}
		if j, dup := duplicate(out.Events[start:], first, seen, useMap, key, i); dup {
			if !bytes.Equal(m.Passengers[j].Seat.bytes(), seat) {
				return c.reject(RejectInvalid, "person", fmt.Sprintf("is the person of passengers[%d] again, with a different seat", j))
			}
			continue // listed twice with the same seat: the first entry stands
		}
		first = append(first, int32(i))
		out.Events = append(out.Events, scoring.Event{
			Person: key, Kind: scoring.KindArrival, Row: row, At: arrived, End: departed,
			Country: countryS, Place: place, Text: dest, ID: id, Source: source,
		})
	}
	c.passenger = -1
	return nil
}

// duplicate reports whether key was already emitted for this manifest, and
// if so the index of the passenger that listed it first; otherwise it
// records key as listed by passenger i. first holds the passenger index of
// each emitted event.
func duplicate(emitted []scoring.Event, first []int32, seen map[scoring.PersonKey]int32, useMap bool, key scoring.PersonKey, i int) (int32, bool) {
	if useMap {
		if j, ok := seen[key]; ok {
			return j, true
		}
		seen[key] = int32(i)
		return 0, false
	}
	for k := range emitted {
		if emitted[k].Person == key {
			return first[k], true
		}
	}
	return 0, false
}

func (c *call) travel(m *travelMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	code, r := c.text("region.code", &m.Region.Code, true)
	if r != nil {
		return r
	}
	if !isRegionCode(code) {
		return c.reject(RejectInvalid, "region.code", "must be a six-digit GB/T 2260 code like 330102")
	}
	country, r := c.text("region.country", &m.Region.Country, true)
	if r != nil {
		return r
	}
	if !isAlpha3(country) {
		return c.reject(RejectInvalid, "region.country", "must be an ISO 3166-1 alpha-3 code like CHN")
	}
	var cell uint64
	if loc := &m.Location; loc.Lat.st != numAbsent || loc.Lng.st != numAbsent {
		lat, lng, r := c.latLng("location.lat", &loc.Lat, "location.lng", &loc.Lng)
		if r != nil {
			return r
		}
		cell = uint64(h3.LatLngToCell(h3.NewLatLng(lat, lng), cellRes))
	}
	left, r := c.observed("left_at", &m.LeftAt, false)
	if r != nil {
		return r
	}
	if r := c.notBefore("left_at", left, at, "occurred_at"); r != nil {
		return r
	}
	out.Events = append(out.Events, scoring.Event{
		Person: key, Kind: scoring.KindTravel, At: at, End: left, Cell: cell,
		Country: c.sc.intern(country), Place: c.sc.intern(code), ID: id, Source: source,
	})
	return nil
}

func (c *call) test(m *testMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	// Names in the order of scoring's values, which start at 1.
	kind, r := c.enum("test.kind", &m.Test.Kind, "pcr", "antigen", "igg", "igm")
	if r != nil {
		return r
	}
	result, r := c.enum("test.result", &m.Test.Result, "negative", "positive", "inconclusive")
	if r != nil {
		return r
	}
	if r := c.label("test.lab", &m.Test.Lab, maxName); r != nil {
		return r
	}
	reported, r := c.observed("test.reported_at", &m.Test.ReportedAt, true)
	if r != nil {
		return r
	}
	if r := c.notBefore("test.reported_at", reported, at, "occurred_at (the sampling time)"); r != nil {
		return r
	}
	out.Events = append(out.Events, scoring.Event{
		Person: key, Kind: scoring.KindTest, Sub: kind, Result: scoring.Result(result), At: at, End: reported,
		ID: id, Source: source,
	})
	return nil
}

func (c *call) checkin(m *checkinMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	venue, r := c.text("venue.id", &m.Venue.ID, true)
	if r != nil {
		return r
	}
	if r := c.label("venue.name", &m.Venue.Name, maxName); r != nil {
		return r
	}
	lat, lng, r := c.latLng("venue.lat", &m.Venue.Lat, "venue.lng", &m.Venue.Lng)
	if r != nil {
		return r
	}
	left, r := c.observed("left_at", &m.LeftAt, false)
	if r != nil {
		return r
	}
	if r := c.notBefore("left_at", left, at, "occurred_at"); r != nil {
		return r
	}
	place, cell := c.d.venueCell(venue, lat, lng)
	out.Events = append(out.Events, scoring.Event{
		Person: key, Kind: scoring.KindCheckin, At: at, End: left, Cell: cell,
		Place: place, ID: id, Source: source,
	})
	return nil
}

func (c *call) vaccination(m *vaccinationMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	if _, r := c.text("vaccine.product", &m.Vaccine.Product, true); r != nil {
		return r
	}
	dose := &m.Vaccine.Dose
	switch {
	case dose.st == numAbsent:
		return c.reject(RejectMissing, "vaccine.dose", "is required")
	case dose.st == numNotNumber:
		return c.reject(RejectMalformed, "vaccine.dose", "must be a number")
	case dose.st == numNotFinite || dose.v != math.Trunc(dose.v) || dose.v < 1 || dose.v > 10:
		return c.reject(RejectInvalid, "vaccine.dose", "must be a whole number from 1 to 10")
	}
	out.Events = append(out.Events, scoring.Event{
		Person: key, Kind: scoring.KindVaccination, Dose: uint8(dose.v), At: at, ID: id, Source: source,
		Text: c.sc.intern(bytes.TrimSpace(m.Vaccine.Product.bytes())), // the product, for the travel certificate
	})
	return nil
}

func (c *call) declaration(m *declarationMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	if len(m.Symptoms) > maxSymptoms {
		return c.reject(RejectInvalid, "symptoms", fmt.Sprintf("lists more than %d entries", maxSymptoms))
	}
	var bits uint8
	for i := range m.Symptoms {
		s := &m.Symptoms[i]
		bit, ok := uint8(0), s.st == textOK
		if ok {
			bit, ok = scoring.SymptomBits[string(s.bytes())]
		}
		if !ok {
			return c.reject(RejectInvalid, "symptoms["+strconv.Itoa(i)+"]",
				"is not a known symptom (fever, cough, fatigue, loss_of_smell, sore_throat)")
		}
		bits |= bit
	}
	var temp int16
	switch t := &m.TemperatureC; t.st {
	case numNotNumber:
		return c.reject(RejectMalformed, "temperature_c", "must be a number")
	case numOK, numNotFinite:
		if t.st == numNotFinite || t.v < 30 || t.v > 45 {
			return c.reject(RejectInvalid, "temperature_c", "must be between 30.0 and 45.0 °C")
		}
		temp = int16(math.Round(t.v * 10))
	}
	var jev scoring.Event
	if m.Journey != nil {
		j, r := c.journey(m.Journey)
		if r != nil {
			return r
		}
		jev = scoring.JourneyEvent(key, at, id, source, j)
	}
	out.Events = append(out.Events, scoring.Event{
		Person: key, Kind: scoring.KindDeclaration, Symptoms: bits, TempDeci: temp, At: at, ID: id, Source: source,
	})
	if m.Journey != nil {
		out.Events = append(out.Events, jev)
	}
	return nil
}

func (c *call) areaRisk(m *areaRiskMsg, out *Batch) *RejectError {
	id, _, from, r := c.envelope(&m.envelope)
	if r != nil {
		return r
	}
	kb, r := c.text("area.kind", &m.Area.Kind, true)
	if r != nil {
		return r
	}
	code, r := c.text("area.code", &m.Area.Code, true)
	if r != nil {
		return r
	}
	d := scoring.Designation{From: from, ID: id}
	switch string(kb) {
	case "country":
		if !isAlpha3(code) {
			return c.reject(RejectInvalid, "area.code", "must be an ISO 3166-1 alpha-3 code like DEU for a country")
		}
		d.Kind, d.Code = scoring.AreaCountry, c.sc.intern(code)
	case "region":
		if !isRegionCode(code) {
			return c.reject(RejectInvalid, "area.code", "must be a six-digit GB/T 2260 code like 330102 for a region")
		}
		d.Kind, d.Code = scoring.AreaRegion, c.sc.intern(code)
	case "h3":
		v, err := strconv.ParseUint(string(code), 16, 64)
		if err != nil || len(code) > 16 || !h3.Cell(v).IsValid() {
			return c.reject(RejectInvalid, "area.code", "must be a valid H3 cell index in hex like 8830e1c6b5fffff")
		}
		d.Kind, d.Cell, d.Code = scoring.AreaH3, v, h3.Cell(v).String()
	default:
		return c.reject(RejectInvalid, "area.kind", "must be one of country, region, h3")
	}
	level, r := c.enum("level", &m.Level, "low", "medium", "high")
	if r != nil {
		return r
	}
	d.Level = scoring.RiskLevel(level)
	if d.Until, r = c.planned("until", &m.Until, false); r != nil {
		return r
	}
	if r := c.later("until", d.Until, from, "occurred_at"); r != nil {
		return r
	}
	out.Areas = append(out.Areas, d)
	return nil
}

func (c *call) override(m *overrideMsg, out *Batch) *RejectError {
	id, source, at, key, r := c.personEnvelope(&m.envelope, &m.Person)
	if r != nil {
		return r
	}
	cb, r := c.text("colour", &m.Colour, true)
	if r != nil {
		return r
	}
	level := -1
	for i, name := range c.d.cfg.Colours {
		if string(cb) == name {
			level = i
			break
		}
	}
	if level < 0 {
		return c.reject(RejectInvalid, "colour", "must be one of "+strings.Join(c.d.cfg.Colours, ", "))
	}
	until, r := c.planned("until", &m.Until, true)
	if r != nil {
		return r
	}
	if r := c.later("until", until, at, "occurred_at"); r != nil {
		return r
	}
	switch {
	case strings.TrimSpace(m.Reason) == "":
		return c.reject(RejectMissing, "reason", "is required and must not be blank")
	case len(m.Reason) > maxReason:
		return c.reject(RejectInvalid, "reason", fmt.Sprintf("is longer than %d bytes", maxReason))
	}
	if f := textFaultString(m.Reason, kindProse); f != "" {
		return c.reject(RejectInvalid, "reason", f)
	}
	if quotesID(m.Reason, c.num) {
		return c.reject(RejectInvalid, "reason", "quotes the person's id_number; raw identifiers must not reach internal topics")
	}
	officer, r := c.identString("officer", m.Officer)
	if r != nil {
		return r
	}
	approver, r := c.identString("approver", m.Approver)
	if r != nil {
		return r
	}
	officerKey, approverKey := PersonKey(c.d.cfg.Key, IDTypeOfficer, officer), PersonKey(c.d.cfg.Key, IDTypeOfficer, approver)
	if strings.EqualFold(officer, approver) || officerKey == approverKey {
		return c.reject(RejectInvalid, "approver", "must be a different person from officer")
	}
	code, r := c.text("reason_code", &m.ReasonCode, false)
	if r != nil {
		return r
	}
	region, r := c.text("office_region", &m.Region, false)
	if r != nil {
		return r
	}
	if region != nil && !isRegionCode(region) {
		return c.reject(RejectInvalid, "office_region", "must be a six-digit GB/T 2260 code like 330102")
	}
	confirms := ""
	if m.Confirms != "" {
		switch {
		case len(m.Confirms) > maxEventID:
			return c.reject(RejectInvalid, "confirms", fmt.Sprintf("is longer than %d bytes", maxEventID))
		case strings.TrimSpace(m.Confirms) == "":
			return c.reject(RejectInvalid, "confirms", "must not be blank")
		case m.Confirms == id:
			return c.reject(RejectInvalid, "confirms", "must name another override's event_id")
		}
		if f := textFaultString(m.Confirms, kindIdent); f != "" {
			return c.reject(RejectInvalid, "confirms", f)
		}
		confirms = m.Confirms
	}
	// Officers and approvers are keyed like persons (id_type "officer"):
	// their names go no further than this call.
	out.Overrides = append(out.Overrides, scoring.Override{
		ID: id, Source: source, Person: key, Level: uint8(level), At: at, Until: until,
		Reason: m.Reason, ReasonCode: string(code), Region: string(region),
		Officer: officerKey, Approver: approverKey, Confirms: confirms,
	})
	return nil
}

// quotesID reports whether free text contains the normalised document number
// num (ignoring case, spaces and hyphens). Numbers shorter than six
// characters are not looked for: too many innocent matches.
func quotesID(text string, num []byte) bool {
	if len(num) < 6 || len(text) < len(num) {
		return false
	}
	return strings.Contains(NormaliseIDNumber(text), string(num))
}
