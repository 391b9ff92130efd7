package main

import (
	"context"
	"strings"
	"testing"

	"healthcode/pipeline/wire"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
	"healthcode/sources"
)

// TestExplain_Journey: explain shows a returnee's journey (declaration,
// status, the rule applying, each step) from return_journeys, as the
// engine decided it.
func TestExplain_Journey(t *testing.T) {
	ctx := context.Background()
	o := chtest.Start(t)
	c, err := clickhouse.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pol, err := policies.Load("international")
	if err != nil {
		t.Fatal(err)
	}
	eng := scoring.NewEngine(pol, scoring.EngineOptions{})
	key := sources.PersonKey([]byte("k"), "passport", "E12345678")
	decl := scoring.JourneyEvent(key, scoring.MustTime("2020-03-10T09:00:00+08:00"), "decl-7", "declarations", scoring.Journey{
		Origin: "ITA", City: "Milano", Flights: []string{"MU552/2020-03-12"}, Port: "PVG", Region: "330106",
		Planned: scoring.MustTime("2020-03-13T07:05:00+08:00")})
	landing := scoring.Event{Person: key, Kind: scoring.KindArrival, At: scoring.MustTime("2020-03-13T07:05:00+08:00"),
		End: scoring.MustTime("2020-03-12T19:25:00+08:00"), Country: "ITA", Text: "PVG", Place: "MU7062/2020-03-12", Row: 30, ID: "fl-9", Source: "customs"}
	var ups []scoring.Update
	for _, ev := range []scoring.Event{decl, landing} {
		if ups, err = eng.Apply(&ev, ev.At, ups); err != nil {
			t.Fatal(err)
		}
	}
	var rows []wire.Journey
	for _, u := range eng.TakeJourneys() {
		rows = append(rows, wire.NewJourney(&u))
	}
	if err := c.WriteJourneys(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteColourUpdates(ctx, []sinks.ColourUpdate{sinks.NewColourUpdate(pol, &ups[len(ups)-1], nil)}); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, explainCmd, key.String(), "--clickhouse", o.Addr, "--clickhouse-db", o.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"journey  declared 2020-03-10T09:00:00+08:00 (decl-7): from Milano (ITA), flights MU552/2020-03-12, entering at PVG, going to 330106",
		"status     landed, under arrival-abroad", "landed     2020-03-13T07:05:00+08:00 at PVG on MU7062/2020-03-12 (not a declared flight)",
		"boarded    2020-03-12T19:25:00+08:00", "arrived    -", "arrival-other-flight"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}
