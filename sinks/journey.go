package sinks

import (
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
