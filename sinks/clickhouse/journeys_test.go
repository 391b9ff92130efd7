package clickhouse_test

import (
	"context"
	"errors"
	"testing"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

func TestWriteJourneys(t *testing.T) {
	ctx := context.Background()
	c, err := clickhouse.Open(ctx, chtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := scoring.PersonKey{4, 5, 6}
	u := scoring.JourneyUpdate{Person: key, Version: 1, Status: scoring.JourneyDeclared, ID: "decl-1",
		Effective: scoring.MustTime("2020-03-10T08:00:00+08:00"), DeclaredAt: scoring.MustTime("2020-03-10T08:00:00+08:00"),
		Journey: scoring.Journey{Origin: "ITA", City: "Milano", Flights: []string{"MU552/2020-03-12"}, Port: "PVG", Region: "330106",
			Planned: scoring.MustTime("2020-03-13T07:05:00+08:00")}}
	declared := wire.NewJourney(&u)
	u.Version, u.Status = 3, scoring.JourneyQuarantine
	u.BoardedAt, u.LandedAt = scoring.MustTime("2020-03-12T19:25:00+08:00"), scoring.MustTime("2020-03-13T07:05:00+08:00")
	u.ArrivedAt, u.QuarantineAt = scoring.MustTime("2020-03-13T11:00:00+08:00"), scoring.MustTime("2020-03-13T11:00:00+08:00")
	u.LandedPort, u.LandedFlight, u.OtherFlight, u.Rule = "PVG", "MU552/2020-03-12", false, "arrival-high-risk"
	quarantined := wire.NewJourney(&u)
	bad := quarantined
	bad.Status = "lost"
	// Out of order and twice: the highest version wins; the bad row alone is refused.
	err = c.WriteJourneys(ctx, []wire.Journey{quarantined, declared, bad, quarantined})
	var re *clickhouse.RefusedError
	if !errors.As(err, &re) || len(re.Rows) != 1 || re.Rows[0].Index != 2 || re.Rows[0].Table != "return_journeys" {
		t.Fatalf("write: %v, want the bad status refused alone", err)
	}
	if n, err := c.Count(ctx, "return_journeys", true); err != nil || n != 1 {
		t.Fatalf("return_journeys FINAL = %d (%v), want 1", n, err)
	}
	got, err := c.Journey(ctx, key)
	if err != nil || got == nil {
		t.Fatalf("journey: %v %v", got, err)
	}
	if got.Status != "quarantine" || got.Version != 3 || got.LandedAt != quarantined.LandedAt || got.ArrivedAt != quarantined.ArrivedAt ||
		got.Rule != "arrival-high-risk" || len(got.Flights) != 1 || got.OriginCity != "Milano" || got.BoardedAt != quarantined.BoardedAt ||
		got.ReleasedAt != 0 || got.PlannedArrival != quarantined.PlannedArrival {
		t.Errorf("journey row %+v\nwant %+v", got, quarantined)
	}
	if none, err := c.Journey(ctx, scoring.PersonKey{9}); err != nil || none != nil {
		t.Errorf("a person without a journey: %v %v", none, err)
	}
}
