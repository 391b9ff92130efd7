package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

// explainJourney prints a returnee's declared journey from return_journeys:
// what was declared, the status and the rule now applying, and the time of
// each step. It prints nothing for a person who declared none.
func explainJourney(ctx context.Context, ch *clickhouse.Client, key scoring.PersonKey, w io.Writer) error {
	j, err := ch.Journey(ctx, key)
	if err != nil || j == nil {
		return err
	}
	zone := sinks.DefaultZone()
	at := func(s int64) string {
		if s == 0 {
			return "-"
		}
		return time.Unix(s, 0).In(zone).Format(time.RFC3339)
	}
	fmt.Fprintf(w, "\njourney  declared %s (%s): from %s (%s), flights %s, entering at %s, going to %s, planned arrival %s\n",
		at(j.DeclaredAt), j.JourneyID, j.OriginCity, j.OriginCountry, strings.Join(j.Flights, " "), j.PortOfEntry,
		j.DestinationRegion, at(j.PlannedArrival))
	status := j.Status
	if j.Rule != "" {
		status += ", under " + j.Rule
	}
	fmt.Fprintf(w, "  status     %s (version %d, since %s)\n", status, j.Version, at(j.EffectiveAt))
	landed := at(j.LandedAt)
	if j.LandedAt != 0 {
		landed += fmt.Sprintf(" at %s on %s", j.LandedPort, j.LandedFlight)
		if j.OtherFlight {
			landed += " (not a declared flight)"
		}
	}
	for _, s := range [...]struct{ name, at string }{
		{"boarded", at(j.BoardedAt)}, {"landed", landed}, {"arrived", at(j.ArrivedAt) + inProvince(j.ArrivedAt)},
		{"quarantine", at(j.QuarantineAt)}, {"released", at(j.ReleasedAt)},
	} {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.at)
	}
	return nil
}

func inProvince(t int64) string {
	if t == 0 {
		return ""
	}
	return " in the province"
}
