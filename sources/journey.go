package sources

import (
	"fmt"
	"strconv"
	"strings"

	"healthcode/scoring"
)

// A return-journey declaration is the optional "journey" object of a
// self-declaration (src.declarations): where the journey starts, its flights,
// the port of entry into China, the final destination in the province and
// the planned arrival. It becomes a scoring.KindJourney event beside the
// declaration's own, which scoring matches with the person's manifests,
// travel records and check-ins (scoring/journey.go).

// maxCity is the longest origin city accepted, in bytes.
const maxCity = 64

type journeyJSON struct {
	Origin struct {
		Country text   `json:"country"`
		City    string `json:"city"`
	} `json:"origin"`
	Flights           []flightRefJSON `json:"flights"`
	PortOfEntry       text            `json:"port_of_entry"`
	DestinationRegion text            `json:"destination_region"`
	PlannedArrival    jsonTime        `json:"planned_arrival"`
}

type flightRefJSON struct {
	Number text `json:"number"`
	Date   text `json:"date"`
}

// journey validates a declared journey.
func (c *call) journey(m *journeyJSON) (scoring.Journey, *RejectError) {
	var j scoring.Journey
	country, r := c.text("journey.origin.country", &m.Origin.Country, true)
	if r != nil {
		return j, r
	}
	switch {
	case !isAlpha3(country):
		return j, c.reject(RejectInvalid, "journey.origin.country", "must be an ISO 3166-1 alpha-3 code like DEU")
	case string(country) == "CHN":
		return j, c.reject(RejectInvalid, "journey.origin.country", "must be a country other than CHN: a return journey starts abroad")
	}
	city := strings.TrimSpace(m.Origin.City)
	switch {
	case city == "":
		return j, c.reject(RejectMissing, "journey.origin.city", "is required and must not be blank")
	case len(m.Origin.City) > maxCity:
		return j, c.reject(RejectInvalid, "journey.origin.city", fmt.Sprintf("is longer than %d bytes", maxCity))
	}
	if f := textFaultString(m.Origin.City, kindProse); f != "" {
		return j, c.reject(RejectInvalid, "journey.origin.city", f)
	}
	switch n := len(m.Flights); {
	case n == 0:
		return j, c.reject(RejectMissing, "journey.flights", "must list at least one flight")
	case n > scoring.MaxJourneyFlights:
		return j, c.reject(RejectInvalid, "journey.flights", fmt.Sprintf("lists more than %d flights", scoring.MaxJourneyFlights))
	}
	earliest := int64(-1)
	for i := range m.Flights {
		f := &m.Flights[i]
		field := "journey.flights[" + strconv.Itoa(i) + "]"
		number, r := c.text(field+".number", &f.Number, true)
		if r != nil {
			return j, r
		}
		if !flightNumber(number) {
			return j, c.reject(RejectInvalid, field+".number", "must be an airline designator and 1-4 digits, like MU588")
		}
		date, r := c.text(field+".date", &f.Date, true)
		if r != nil {
			return j, r
		}
		days, ok := parseDate(date)
		if !ok {
			return j, c.reject(RejectInvalid, field+".date", "must be a calendar date YYYY-MM-DD")
		}
		if earliest < 0 || days < earliest {
			earliest = days
		}
		ref := string(number) + "/" + string(date)
		for k, prev := range j.Flights {
			if prev == ref {
				return j, c.reject(RejectInvalid, field, fmt.Sprintf("repeats journey.flights[%d]", k))
			}
		}
		j.Flights = append(j.Flights, ref)
	}
	port, r := c.text("journey.port_of_entry", &m.PortOfEntry, true)
	if r != nil {
		return j, r
	}
	if !isAlpha3(port) {
		return j, c.reject(RejectInvalid, "journey.port_of_entry", "must be a three-letter IATA airport code like PVG")
	}
	region, r := c.text("journey.destination_region", &m.DestinationRegion, true)
	if r != nil {
		return j, r
	}
	if !isRegionCode(region) {
		return j, c.reject(RejectInvalid, "journey.destination_region", "must be a six-digit GB/T 2260 code like 330106")
	}
	if j.Planned, r = c.planned("journey.planned_arrival", &m.PlannedArrival, true); r != nil {
		return j, r
	}
	if int64(j.Planned)+scoring.Epoch < (earliest-1)*86400 {
		return j, c.reject(RejectTime, "journey.planned_arrival", "is more than a day before the date of the earliest flight")
	}
	j.Origin, j.City = c.sc.intern(country), city
	j.Port, j.Region = c.sc.intern(port), c.sc.intern(region)
	return j, nil
}
