package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"healthcode/scoring"
)

// Journey is a record on the internal topic hc.journeys and a row of the
// ClickHouse return_journeys table: one declared return journey, as far as
// it has come. The score stage writes one record whenever what the row shows
// changes; the highest version of a person is the current row. Person keys
// are pseudonymous; times are Unix seconds, 0 where a step is not reached.
type Journey struct {
	PersonKey         string   `json:"person_key"`
	JourneyID         string   `json:"journey_id"` // event_id of the declaration in force
	Version           uint64   `json:"version"`    // rises with every record of this person's journey
	Status            string   `json:"status"`     // one of JourneyStatuses
	EffectiveAt       int64    `json:"effective_at"`
	OriginCountry     string   `json:"origin_country"`
	OriginCity        string   `json:"origin_city"`
	Flights           []string `json:"flights"` // declared NUMBER/DATE
	PortOfEntry       string   `json:"port_of_entry"`
	DestinationRegion string   `json:"destination_region"`
	PlannedArrival    int64    `json:"planned_arrival"`
	DeclaredAt        int64    `json:"declared_at"`
	BoardedAt         int64    `json:"boarded_at"`
	LandedAt          int64    `json:"landed_at"`
	ArrivedAt         int64    `json:"arrived_at"` // in the province
	QuarantineAt      int64    `json:"quarantine_at"`
	ReleasedAt        int64    `json:"released_at"`
	LandedPort        string   `json:"landed_port"`   // where they landed from abroad
	LandedFlight      string   `json:"landed_flight"` // on which flight (NUMBER/DATE)
	OtherFlight       bool     `json:"other_flight"`  // a flight they did not declare
	Rule              string   `json:"rule"`          // the arrival rule now applying, "" if none
}

// JourneyStatuses names the journey statuses as written, by value.
var JourneyStatuses = scoring.JourneyStatusNames()[1:]

// NewJourney renders a scoring journey update as a record.
func NewJourney(u *scoring.JourneyUpdate) Journey {
	fl := u.Journey.Flights
	if fl == nil {
		fl = []string{}
	}
	return Journey{PersonKey: u.Person.String(), JourneyID: u.ID, Version: uint64(u.Version), Status: u.Status.String(),
		EffectiveAt: unix(u.Effective), OriginCountry: u.Journey.Origin, OriginCity: u.Journey.City, Flights: fl,
		PortOfEntry: u.Journey.Port, DestinationRegion: u.Journey.Region, PlannedArrival: unix(u.Journey.Planned),
		DeclaredAt: unix(u.DeclaredAt), BoardedAt: unix(u.BoardedAt), LandedAt: unix(u.LandedAt), ArrivedAt: unix(u.ArrivedAt),
		QuarantineAt: unix(u.QuarantineAt), ReleasedAt: unix(u.ReleasedAt),
		LandedPort: u.LandedPort, LandedFlight: u.LandedFlight, OtherFlight: u.OtherFlight, Rule: u.Rule}
}

// EncodeJourney writes j as it goes on hc.journeys.
func EncodeJourney(j *Journey) ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, fmt.Errorf("encode journey: %w", err)
	}
	return json.Marshal(j)
}

// DecodeJourney reads a record of hc.journeys, refusing one that is not JSON
// of this shape or whose key, status or id are not what a writer writes.
func DecodeJourney(b []byte) (Journey, error) {
	var j Journey
	if err := json.Unmarshal(b, &j); err != nil {
		return Journey{}, fmt.Errorf("decode journey: %w", err)
	}
	return j, nil
}

// UnmarshalJSON decodes and validates a record, so that a reader decoding
// with encoding/json (the sink does) gets the same checks as DecodeJourney.
func (j *Journey) UnmarshalJSON(b []byte) error {
	type plain Journey // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := (*Journey)(&p).Validate(); err != nil {
		return err
	}
	*j = Journey(p)
	return nil
}

// Validate checks what every record holds: a hex person key, a known status
// and a journey id.
func (j *Journey) Validate() error {
	if !isKeyHex(j.PersonKey) {
		return errors.New("person key must be 32 lowercase hex characters")
	}
	if !slices.Contains(JourneyStatuses, j.Status) {
		return fmt.Errorf("status %q is not a journey status", j.Status)
	}
	if j.JourneyID == "" {
		return errors.New("journey id is empty")
	}
	return nil
}
