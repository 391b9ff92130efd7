package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
)

const journeyColumns = "person_key, journey_id, version, status, effective_at, origin_country, origin_city, flights, " +
	"port_of_entry, destination_region, planned_arrival, declared_at, boarded_at, landed_at, arrived_at, quarantine_at, " +
	"released_at, landed_port, landed_flight, other_flight, rule"

// WriteJourneys inserts journey rows in one batched columnar insert. The
// table keeps the highest version of each person: read it with FINAL. A row
// the table cannot hold (a bad key or status) or that ClickHouse refuses is
// left out and reported in a *RefusedError (Index: its index in js) once
// every other one is written; any other error means the call is to be
// retried.
func (c *Client) WriteJourneys(ctx context.Context, js []wire.Journey) error {
	if len(js) == 0 {
		return nil
	}
	n := len(js)
	strs := make([][]string, 10) // person_key .. rule, the String columns in journeyColumns order
	for i := range strs {
		strs[i] = make([]string, 0, n)
	}
	versions, others := make([]uint64, 0, n), make([]uint8, 0, n)
	times := make([][]time.Time, 8)
	for i := range times {
		times[i] = make([]time.Time, 0, n)
	}
	flights := make([][]string, 0, n)
	var refused []RefusedRow
	rows := make([]int, 0, n)
	at := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	for i := range js {
		j := &js[i]
		if err := storableJourney(j); err != nil {
			refused = append(refused, RefusedRow{Index: i, Table: "return_journeys", Err: err})
			continue
		}
		rows = append(rows, i)
		for k, s := range [...]string{j.PersonKey, j.JourneyID, j.Status, j.OriginCountry, j.OriginCity, j.PortOfEntry,
			j.DestinationRegion, j.LandedPort, j.LandedFlight, j.Rule} {
			strs[k] = append(strs[k], s)
		}
		for k, t := range [...]int64{j.EffectiveAt, j.PlannedArrival, j.DeclaredAt, j.BoardedAt, j.LandedAt, j.ArrivedAt, j.QuarantineAt, j.ReleasedAt} {
			times[k] = append(times[k], at(t))
		}
		versions = append(versions, j.Version)
		var o uint8
		if j.OtherFlight {
			o = 1
		}
		others = append(others, o)
		fl := j.Flights
		if fl == nil {
			fl = []string{}
		}
		flights = append(flights, fl)
	}
	cols := []any{strs[0], strs[1], versions, strs[2], times[0], strs[3], strs[4], flights, strs[5], strs[6], times[1],
		times[2], times[3], times[4], times[5], times[6], times[7], strs[7], strs[8], others, strs[9]}
	more, err := c.insertIsolating(ctx, "return_journeys", journeyColumns, cols, rows)
	if err != nil {
		return fmt.Errorf("write return journeys: %w", err)
	}
	return refusedOrNil(mergeRefused(refused, more))
}

// storableJourney says why the return_journeys table cannot hold j, or nil.
func storableJourney(j *wire.Journey) error {
	if len(j.PersonKey) != 32 {
		return errors.New("person key must be 32 hex characters")
	}
	if !slices.Contains(wire.JourneyStatuses, j.Status) {
		return fmt.Errorf("status %q is not a journey status", j.Status)
	}
	if j.Version == 0 {
		return errors.New("journey version is 0")
	}
	return nil
}

// Journey returns the person's current journey row, or nil if they declared
// none.
func (c *Client) Journey(ctx context.Context, key scoring.PersonKey) (*wire.Journey, error) {
	rows, err := c.conn.Query(ctx, `SELECT toString(person_key), journey_id, version, toString(status), effective_at,
       origin_country, origin_city, flights, port_of_entry, destination_region, planned_arrival, declared_at, boarded_at,
       landed_at, arrived_at, quarantine_at, released_at, landed_port, landed_flight, other_flight, rule
FROM return_journeys FINAL WHERE person_key = ?`, key.String())
	if err != nil {
		return nil, fmt.Errorf("query journey of %s: %w", key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var j wire.Journey
	var ts [8]time.Time
	var other uint8
	if err := rows.Scan(&j.PersonKey, &j.JourneyID, &j.Version, &j.Status, &ts[0], &j.OriginCountry, &j.OriginCity, &j.Flights,
		&j.PortOfEntry, &j.DestinationRegion, &ts[1], &ts[2], &ts[3], &ts[4], &ts[5], &ts[6], &ts[7],
		&j.LandedPort, &j.LandedFlight, &other, &j.Rule); err != nil {
		return nil, fmt.Errorf("journey of %s: %w", key, err)
	}
	for i, p := range [...]*int64{&j.EffectiveAt, &j.PlannedArrival, &j.DeclaredAt, &j.BoardedAt, &j.LandedAt, &j.ArrivedAt, &j.QuarantineAt, &j.ReleasedAt} {
		*p = ts[i].Unix()
	}
	j.OtherFlight = other != 0
	return &j, rows.Err()
}

// JourneyCount is the number of journeys at one status.
type JourneyCount struct {
	Status   string
	Journeys uint64
}

// JourneyCounts returns the current journeys by status, in status order.
func (c *Client) JourneyCounts(ctx context.Context) ([]JourneyCount, error) {
	rows, err := c.conn.Query(ctx, `SELECT toString(status), count() FROM return_journeys FINAL GROUP BY status ORDER BY status`)
	if err != nil {
		return nil, fmt.Errorf("journey counts: %w", err)
	}
	defer rows.Close()
	var out []JourneyCount
	for rows.Next() {
		var jc JourneyCount
		if err := rows.Scan(&jc.Status, &jc.Journeys); err != nil {
			return nil, fmt.Errorf("journey counts: %w", err)
		}
		out = append(out, jc)
	}
	return out, rows.Err()
}
