package sourcestest

import (
	"fmt"
	"strings"

	"healthcode/sources"
)

// Bad is one bad upstream message and how the decoder refuses it.
type Bad struct {
	Class   string         // what is wrong, for test names ("control character in event_id")
	Stream  sources.Stream // the stream it is sent on
	Value   []byte         // the message; unique among BadInput's
	Error   string         // the exact rejection sentence
	Schema  bool           // the stream's JSON Schema refuses it too
	Secrets []string       // identifiers and names in Value that Error must never contain
}

// badCase builds one Bad from the stream's example.
type badCase struct {
	class  string
	stream sources.Stream
	edit   func(m tree)
	raw    []string // placeholder/replacement pairs applied to the JSON (see marshal)
	value  string   // the whole message, instead of an edited example
	err    string   // the sentence after "rejected <stream> message: "
	schema bool
}

var (
	flights      = sources.StreamFlights
	travel       = sources.StreamTravel
	tests        = sources.StreamTests
	checkins     = sources.StreamCheckins
	vaccinations = sources.StreamVaccinations
	declarations = sources.StreamDeclarations
	areaRisk     = sources.StreamAreaRisk
	overrides    = sources.StreamOverrides
)

func setTo(path string, v any) func(m tree) { return func(m tree) { set(m, path, v) } }

// BadInput returns one bad message of every rejection class (more than 60),
// each on its stream's embedded example with its own event_id. The decoder
// must refuse each with exactly its Error, judged against a wall clock in
// 2021 or later and the default Config (24h MaxAhead, colours green, yellow,
// red).
func BadInput() []Bad {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []badCase{
		// Not a JSON object, or not UTF-8.
		{class: "not JSON", stream: tests, value: `{"event_id":"bad-json","source":`, err: "not valid JSON (byte 32: unexpected end of JSON input)"},
		{class: "not an object", stream: tests, value: `["bad-array"]`, err: "the message must be a JSON object, not an array"},
		{class: "invalid UTF-8", stream: checkins, edit: setTo("venue.name", "Tea @@FF@@ house"), raw: []string{"@@FF@@", "\xff"}, err: "not valid UTF-8 (byte 270), and the contract's JSON is UTF-8"},
		{class: "wrong JSON type", stream: declarations, edit: setTo("temperature_c", "37.2"), err: "temperature_c: must be a number", schema: true},
		// Characters refused in identifiers and text.
		{class: "control character in event_id", stream: tests, edit: func(m tree) { m["event_id"] = m["event_id"].(string) + "\a" }, err: "event_id: has a control character", schema: true},
		{class: "lone surrogate in event_id", stream: tests, edit: func(m tree) { m["event_id"] = m["event_id"].(string) + "@@SUR@@" }, raw: []string{"@@SUR@@", `\ud800`}, err: "event_id: has a replacement character (U+FFFD), a sign of broken encoding upstream", schema: true},
		{class: "control character in source", stream: checkins, edit: setTo("source", "venue\napp"), err: "source: has a control character", schema: true},
		{class: "control character in id_number", stream: travel, edit: func(m tree) { set(m, "person.id_number", get(m, "person.id_number").(string)+"\t") }, err: "person.id_number: has a control character", schema: true},
		{class: "control character in venue.id", stream: checkins, edit: setTo("venue.id", "V3301\x0002000123"), err: "venue.id: has a control character", schema: true},
		{class: "control character in venue.name", stream: checkins, edit: setTo("venue.name", "Example\x1bTeahouse"), err: "venue.name: has a control character", schema: true},
		{class: "bidi override in venue.name", stream: checkins, edit: setTo("venue.name", "Example \u202eesuohaeT"), err: "venue.name: has a bidirectional control character, which can make text display differently from what it holds", schema: true},
		{class: "control character in flight number", stream: flights, edit: setTo("flight.number", "CA\x7f936"), err: "flight.number: has a control character", schema: true},
		{class: "control character in test.lab", stream: tests, edit: setTo("test.lab", "lab-330102\r07"), err: "test.lab: has a control character", schema: true},
		{class: "C1 control character in vaccine.product", stream: vaccinations, edit: setTo("vaccine.product", "inactivated\u0085vaccine"), err: "vaccine.product: has a control character", schema: true},
		{class: "control character in reason", stream: overrides, edit: setTo("reason", "Appeal upheld:\ntwo negative PCR tests."), err: "reason: has a control character", schema: true},
		{class: "line separator in reason", stream: overrides, edit: setTo("reason", "Appeal upheld:\u2028two negative PCR tests."), err: "reason: has a line or paragraph separator", schema: true},
		{class: "zero-width space in officer", stream: overrides, edit: setTo("officer", "officer-\u200b0417"), err: "officer: has an invisible formatting character", schema: true},
		{class: "control character in region code", stream: travel, edit: setTo("region.code", "33010\x01"), err: "region.code: has a control character", schema: true},
		{class: "blank source", stream: vaccinations, edit: setTo("source", "   "), err: "source: is required and must not be blank", schema: true},
		{class: "empty event_id", stream: declarations, edit: setTo("event_id", ""), err: "event_id: is required and must not be empty", schema: true},
		// Over-long fields.
		{class: "event_id over 256 bytes", stream: tests, edit: setTo("event_id", "bad-"+long(253)), err: "event_id: is longer than 256 bytes", schema: true},
		{class: "source over 64 bytes", stream: travel, edit: setTo("source", long(65)), err: "source: is longer than 64 bytes", schema: true},
		{class: "id_number over 64 bytes", stream: vaccinations, edit: setTo("person.id_number", "0"+long(64)), err: "person.id_number: is longer than 64 bytes", schema: true},
		{class: "venue.name over 256 bytes", stream: checkins, edit: setTo("venue.name", long(257)), err: "venue.name: is longer than 256 bytes", schema: true},
		{class: "test.lab over 256 bytes", stream: tests, edit: setTo("test.lab", long(257)), err: "test.lab: is longer than 256 bytes", schema: true},
		{class: "reason over 2000 bytes", stream: overrides, edit: setTo("reason", long(2001)), err: "reason: is longer than 2000 bytes", schema: true},
		{class: "approver over 64 bytes", stream: overrides, edit: setTo("approver", long(65)), err: "approver: is longer than 64 bytes", schema: true},
		// Impossible values.
		{class: "temperature below 30 °C", stream: declarations, edit: setTo("temperature_c", 29.9), err: "temperature_c: must be between 30.0 and 45.0 °C", schema: true},
		{class: "temperature above 45 °C", stream: declarations, edit: setTo("temperature_c", 45.5), err: "temperature_c: must be between 30.0 and 45.0 °C", schema: true},
		{class: "temperature infinite", stream: declarations, edit: setTo("temperature_c", "@@INF@@"), raw: []string{`"@@INF@@"`, "1e999"}, err: "temperature_c: must be between 30.0 and 45.0 °C", schema: true},
		{class: "latitude above 90", stream: checkins, edit: setTo("venue.lat", 90.5), err: "venue.lat: must be between -90 and 90 degrees", schema: true},
		{class: "latitude infinite", stream: checkins, edit: setTo("venue.lat", "@@INF@@"), raw: []string{`"@@INF@@"`, "-1e400"}, err: "venue.lat: must be between -90 and 90 degrees", schema: true},
		{class: "longitude below -180", stream: travel, edit: setTo("location.lng", -180.5), err: "location.lng: must be between -180 and 180 degrees", schema: true},
		{class: "dose 0", stream: vaccinations, edit: setTo("vaccine.dose", 0), err: "vaccine.dose: must be a whole number from 1 to 10", schema: true},
		{class: "dose negative", stream: vaccinations, edit: setTo("vaccine.dose", -2), err: "vaccine.dose: must be a whole number from 1 to 10", schema: true},
		{class: "dose absurdly high", stream: vaccinations, edit: setTo("vaccine.dose", 1000), err: "vaccine.dose: must be a whole number from 1 to 10", schema: true},
		// Times out of order or out of range.
		{class: "check-in ends before it starts", stream: checkins, edit: setTo("left_at", "2020-03-14T12:04:59+08:00"), err: "left_at: is before occurred_at"},
		{class: "travel stay ends before it starts", stream: travel, edit: setTo("left_at", "2020-03-10T08:59:00+08:00"), err: "left_at: is before occurred_at"},
		{class: "flight arrives before it departs", stream: flights, edit: setTo("flight.departed_at", "2020-03-16T12:21:00+08:00"), err: "flight.arrived_at: is not after flight.departed_at"},
		{class: "flight longer than 48 hours", stream: flights, edit: setTo("flight.departed_at", "2020-03-14T12:19:00+08:00"), err: "flight.arrived_at: is more than 48 hours after flight.departed_at, longer than any flight"},
		{class: "flight date does not match its times", stream: flights, edit: setTo("flight.date", "2020-03-18"), err: "flight.date: does not match the flight's times: it must lie between the day before departed_at and the day after arrived_at"},
		{class: "result reported before sampling", stream: tests, edit: setTo("test.reported_at", "2020-03-18T08:39:00+08:00"), err: "test.reported_at: is before occurred_at (the sampling time)"},
		{class: "override until before occurred_at", stream: overrides, edit: setTo("until", "2020-03-19T14:59:59+08:00"), err: "until: must be after occurred_at"},
		{class: "designation until before occurred_at", stream: areaRisk, edit: setTo("until", "2020-03-11T00:00:00+08:00"), err: "until: must be after occurred_at"},
		{class: "more than a day ahead", stream: checkins, edit: func(m tree) { m["occurred_at"] = "2150-01-01T00:00:00Z"; del(m, "left_at") }, err: "occurred_at: is more than 24h ahead of the wall clock"},
		{class: "before 2020", stream: declarations, edit: setTo("occurred_at", "2019-12-31T23:00:00+08:00"), err: "occurred_at: is not after 2020-01-01T00:00:00Z, the earliest time the pipeline holds"},
		{class: "time without offset", stream: vaccinations, edit: setTo("occurred_at", "2020-12-20T10:30:00"), err: "occurred_at: has no UTC offset; RFC 3339 needs one, like +08:00 or Z", schema: true},
		// Unknown enum values, codes that do not parse.
		{class: "unknown test kind", stream: tests, edit: setTo("test.kind", "elisa"), err: "test.kind: must be one of pcr, antigen, igg, igm", schema: true},
		{class: "unknown test result", stream: tests, edit: setTo("test.result", "positive?"), err: "test.result: must be one of negative, positive, inconclusive", schema: true},
		{class: "unknown id_type", stream: declarations, edit: setTo("person.id_type", "drivers_licence"), err: "person.id_type: must be one of resident_id, passport, hk_macau_permit, taiwan_permit, foreign_permanent_resident", schema: true},
		{class: "unknown symptom", stream: declarations, edit: setTo("symptoms", []any{"cough", "headache"}), err: "symptoms[1]: is not a known symptom (fever, cough, fatigue, loss_of_smell, sore_throat)", schema: true},
		{class: "unknown area level", stream: areaRisk, edit: setTo("level", "severe"), err: "level: must be one of low, medium, high", schema: true},
		{class: "unknown area kind", stream: areaRisk, edit: setTo("area.kind", "city"), err: "area.kind: must be one of country, region, h3", schema: true},
		{class: "unknown colour", stream: overrides, edit: setTo("colour", "blue"), err: "colour: must be one of green, yellow, red"},
		{class: "seat that does not parse", stream: flights, edit: setTo("passengers.0.seat", "23Z"), err: "passengers[0].seat: must be a row number and a letter A-K (like 23C) or CREW", schema: true},
		{class: "H3 code that is not a cell", stream: areaRisk, edit: setTo("area", tree{"kind": "h3", "code": "8830e1c6b5ffff0"}), err: "area.code: must be a valid H3 cell index in hex like 8830e1c6b5fffff"},
		{class: "region code of seven digits", stream: travel, edit: setTo("region.code", "3301020"), err: "region.code: must be a six-digit GB/T 2260 code like 330102", schema: true},
		{class: "region code of no province", stream: areaRisk, edit: setTo("area.code", "990102"), err: "area.code: must be a six-digit GB/T 2260 code like 330102 for a region", schema: true},
		{class: "nationality in lower case", stream: declarations, edit: setTo("person.nationality", "usa"), err: "person.nationality: must be an ISO 3166-1 alpha-3 code like CHN", schema: true},
		{class: "origin country of two letters", stream: flights, edit: setTo("flight.origin_country", "DE"), err: "flight.origin_country: must be an ISO 3166-1 alpha-3 code like DEU", schema: true},
		{class: "region country mixed case", stream: travel, edit: setTo("region.country", "Chn"), err: "region.country: must be an ISO 3166-1 alpha-3 code like CHN", schema: true},
		{class: "resident_id check digit", stream: checkins, edit: func(m tree) {
			id := get(m, "person.id_number").(string)
			const cs = "10X98765432"
			set(m, "person.id_number", id[:17]+string(cs[(strings.IndexByte(cs, id[17])+1)%11]))
		}, err: "person.id_number: resident_id check digit mismatch"},
		// Manifests and overrides that contradict themselves.
		{class: "manifest with no passengers", stream: flights, edit: setTo("passengers", []any{}), err: "passengers: must list at least one passenger", schema: true},
		{class: "same person twice with another seat", stream: flights, edit: func(m tree) {
			ps := m["passengers"].([]any)
			again := tree{"person": ps[0].(tree)["person"], "seat": "30A"}
			m["passengers"] = append(ps, again)
		}, err: "passengers[3].person: is the person of passengers[0] again, with a different seat"},
		{class: "origin airport is the destination", stream: flights, edit: setTo("flight.destination_airport", "FRA"), err: "flight.destination_airport: must differ from flight.origin_airport"},
		// Return-journey declarations (the optional journey of a declaration).
		{class: "journey that is not an object", stream: declarations, edit: setTo("journey", "MU588 to PVG"), err: "journey: must be an object, not a string", schema: true},
		{class: "journey without origin country", stream: declarations, edit: func(m tree) { del(m, "journey.origin.country") }, err: "journey.origin.country: is required", schema: true},
		{class: "journey from China", stream: declarations, edit: setTo("journey.origin.country", "CHN"), err: "journey.origin.country: must be a country other than CHN: a return journey starts abroad", schema: true},
		{class: "journey origin country in lower case", stream: declarations, edit: setTo("journey.origin.country", "usa"), err: "journey.origin.country: must be an ISO 3166-1 alpha-3 code like DEU", schema: true},
		{class: "journey origin city blank", stream: declarations, edit: setTo("journey.origin.city", "  "), err: "journey.origin.city: is required and must not be blank", schema: true},
		{class: "journey origin city over 64 bytes", stream: declarations, edit: setTo("journey.origin.city", long(65)), err: "journey.origin.city: is longer than 64 bytes", schema: true},
		{class: "control character in journey origin city", stream: declarations, edit: setTo("journey.origin.city", "New	York"), err: "journey.origin.city: has a control character", schema: true},
		{class: "journey without flights", stream: declarations, edit: setTo("journey.flights", []any{}), err: "journey.flights: must list at least one flight", schema: true},
		{class: "journey of five flights", stream: declarations, edit: setTo("journey.flights", []any{
			tree{"number": "MU588", "date": "2020-03-16"}, tree{"number": "MU589", "date": "2020-03-16"}, tree{"number": "MU590", "date": "2020-03-16"},
			tree{"number": "MU591", "date": "2020-03-16"}, tree{"number": "MU592", "date": "2020-03-16"}}), err: "journey.flights: lists more than 4 flights", schema: true},
		{class: "journey flight number without digits", stream: declarations, edit: setTo("journey.flights.0.number", "MU"), err: "journey.flights[0].number: must be an airline designator and 1-4 digits, like MU588", schema: true},
		{class: "journey flight date not a date", stream: declarations, edit: setTo("journey.flights.0.date", "2020-02-30"), err: "journey.flights[0].date: must be a calendar date YYYY-MM-DD", schema: true},
		{class: "journey flight without date", stream: declarations, edit: func(m tree) { del(m, "journey.flights.0.date") }, err: "journey.flights[0].date: is required", schema: true},
		{class: "journey flight listed twice", stream: declarations, edit: setTo("journey.flights", []any{
			tree{"number": "MU588", "date": "2020-03-16"}, tree{"number": "MU588", "date": "2020-03-16"}}), err: "journey.flights[1]: repeats journey.flights[0]", schema: true},
		{class: "journey port not an IATA code", stream: declarations, edit: setTo("journey.port_of_entry", "Pudong"), err: "journey.port_of_entry: must be a three-letter IATA airport code like PVG", schema: true},
		{class: "journey without port of entry", stream: declarations, edit: func(m tree) { del(m, "journey.port_of_entry") }, err: "journey.port_of_entry: is required", schema: true},
		{class: "journey destination of five digits", stream: declarations, edit: setTo("journey.destination_region", "33010"), err: "journey.destination_region: must be a six-digit GB/T 2260 code like 330106", schema: true},
		{class: "journey without planned arrival", stream: declarations, edit: func(m tree) { del(m, "journey.planned_arrival") }, err: "journey.planned_arrival: is required", schema: true},
		{class: "journey planned arrival before its flights", stream: declarations, edit: setTo("journey.planned_arrival", "2020-03-14T23:59:59Z"), err: "journey.planned_arrival: is more than a day before the date of the earliest flight"},
		{class: "officer approves own override", stream: overrides, edit: func(m tree) { m["approver"] = m["officer"] }, err: "approver: must be a different person from officer"},
		{class: "reason quotes the id_number", stream: overrides, edit: func(m tree) {
			m["reason"] = "Appeal of " + strings.ToLower(get(m, "person.id_number").(string)) + " upheld."
		}, err: "reason: quotes the person's id_number; raw identifiers must not reach internal topics"},
	}
	out := make([]Bad, 0, len(cases))
	for i, c := range cases {
		b := Bad{Class: c.class, Stream: c.stream, Error: fmt.Sprintf("rejected %s message: %s", c.stream, c.err), Schema: c.schema}
		if c.value != "" {
			b.Value = []byte(c.value)
		} else {
			m := example(c.stream)
			m["event_id"] = fmt.Sprintf("bad-%02d-%s", i, c.stream)
			c.edit(m)
			b.Value, b.Secrets = marshal(m, c.raw...), secrets(m)
		}
		out = append(out, b)
	}
	return out
}

// Good returns the stream's example as a good message with its own eventID,
// about the resident whose (generated) document number is idNumber; a
// manifest carries that one passenger. The area-risk example has no person
// and ignores idNumber.
func Good(s sources.Stream, eventID, idNumber string) []byte {
	m := example(s)
	m["event_id"] = eventID
	person := tree{"id_type": sources.IDTypeResident, "id_number": idNumber}
	switch s {
	case sources.StreamFlights:
		m["passengers"] = []any{tree{"person": person, "seat": "23C"}}
	case sources.StreamAreaRisk:
	default:
		m["person"] = person
	}
	return marshal(m)
}
