package scoring_test

import (
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
)

// TestEngine_RestoreWithDesignationsIssuesNothing: a restored partition loads
// the whole designation table at once. Applied one designation at a time, the
// first (DEU high) would briefly make a traveller orange before the second
// (DEU low from day 5) takes it back: a false update on every restore.
func TestEngine_RestoreWithDesignationsIssuesNothing(t *testing.T) {
	pol, err := policies.Load("international")
	if err != nil {
		t.Fatal(err)
	}
	day0 := scoring.MustTime("2020-03-01T00:00:00+08:00")
	day := func(n int) scoring.Time { return day0.Add(time.Duration(n) * 24 * time.Hour) }
	high := scoring.Designation{Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskHigh, From: day(0), ID: "a-1"}
	low := scoring.Designation{Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskLow, From: day(5), ID: "a-2"}
	key := scoring.PersonKey{7}
	arrival := scoring.Event{Person: key, Kind: scoring.KindArrival, At: day(10), End: day(10).Add(-11 * time.Hour),
		Country: "DEU", Place: "CA936/2020-03-10", Row: 23, ID: "fl-1"}

	// A declared returnee (international gives an undeclared arrival its own rule).
	decl := scoring.JourneyEvent(key, day(8), "decl-1", "declarations", scoring.Journey{Origin: "DEU", City: "Frankfurt",
		Flights: []string{"CA936/2020-03-10"}, Port: "HGH", Region: "330106", Planned: day(10)})
	live := scoring.NewEngine(pol, scoring.EngineOptions{})
	if _, err := live.Apply(&decl, day(8), nil); err != nil {
		t.Fatal(err)
	}
	ups := live.AddDesignations([]scoring.Designation{high, low}, day(8), nil)
	ups, err = live.Apply(&arrival, day(10), ups)
	if err != nil || len(ups) != 1 || ups[0].Level != 1 {
		t.Fatalf("live: %+v %v, want one yellow update", ups, err)
	}
	rec, ok := live.AppendState(nil, key)
	if !ok {
		t.Fatal("no state")
	}

	restored := scoring.NewEngine(pol, scoring.EngineOptions{})
	if _, err := restored.LoadState(rec); err != nil {
		t.Fatal(err)
	}
	if got := restored.AddDesignations([]scoring.Designation{high, low}, day(10), nil); len(got) != 0 {
		t.Errorf("restore issued %d updates (first: level %d, version %d), want none", len(got), got[0].Level, got[0].Version)
	}
}
