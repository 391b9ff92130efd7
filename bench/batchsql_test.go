package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// batchCase is one constructed person: its events, as offsets from now.
type batchCase struct {
	name string
	evs  []scoring.Event // Person and ID are filled in; At and End are offsets from now in seconds (End 0 = none)
}

const (
	hour = int64(time.Hour / time.Second)
	day  = 24 * hour
)

// ev builds an event at now+at (seconds), ending at now+end (0 = none).
func ev(k scoring.Kind, sub uint8, at, end int64) scoring.Event {
	return scoring.Event{Kind: k, Sub: sub, At: scoring.Time(at), End: scoring.Time(end)}
}

func pcr(at int64, r scoring.Result) scoring.Event {
	e := ev(scoring.KindTest, uint8(scoring.TestPCR), at, at+6*hour)
	e.Result = r
	return e
}

func expo(k scoring.ExposureKind, at int64) scoring.Event {
	return ev(scoring.KindExposure, uint8(k), at, 0)
}

func override(at, until int64, level uint8) scoring.Event {
	e := ev(scoring.KindOverride, 0, at, until)
	e.Level, e.Text = level, "复核 reviewed"
	return e
}

func declare(at int64, symptoms uint8, deci int16) scoring.Event {
	e := ev(scoring.KindDeclaration, 0, at, 0)
	e.Symptoms, e.TempDeci = symptoms, deci
	return e
}

func arrival(at int64, country string) scoring.Event {
	e := ev(scoring.KindArrival, 0, at, at-10*hour)
	e.Country, e.Place, e.Row = country, "LH720/2020-03-25", 12
	return e
}

func checkin(at, end int64) scoring.Event {
	e := ev(scoring.KindCheckin, 0, at, end)
	e.Place, e.Cell = "V330102000001", 0x8f30e1c6b5a0000
	return e
}

// batchCases covers every rule of the domestic policy, each on both sides of
// its clear condition, plus overrides, mixed rules, and arrivals from
// designated countries (decided with area_designations).
func batchCases() []batchCase {
	neg, pos := scoring.ResultNegative, scoring.ResultPositive
	antigen := ev(scoring.KindTest, uint8(scoring.TestAntigen), -3*day, -3*day+hour)
	antigen.Result = pos
	return []batchCase{
		{"confirmed active", []scoring.Event{pcr(-5*day, pos)}},
		{"confirmed cleared", []scoring.Event{pcr(-20*day, pos), pcr(-19*day, neg), pcr(-17*day, neg)}},
		{"confirmed one negative", []scoring.Event{pcr(-20*day, pos), pcr(-19*day, neg)}},
		{"confirmed negatives too close", []scoring.Event{pcr(-20*day, pos), pcr(-19*day, neg), pcr(-19*day+20*hour, neg)}},
		{"confirmed negatives exactly 24h apart", []scoring.Event{pcr(-20*day, pos), pcr(-19*day, neg), pcr(-18*day, neg)}},
		{"close contact exactly 14 days, negative at 12", []scoring.Event{expo(scoring.ExposureClose, -14*day), pcr(-2*day, neg)}},
		{"close contact negative a second before 12 days", []scoring.Event{expo(scoring.ExposureClose, -15*day), pcr(-3*day-1, neg)}},
		{"secondary contact exactly 7 days", []scoring.Event{expo(scoring.ExposureSecondary, -7*day)}},
		{"secondary contact a second short of 7 days", []scoring.Event{expo(scoring.ExposureSecondary, -7*day+1)}},
		{"confirmed negatives before it", []scoring.Event{pcr(-22*day, neg), pcr(-21*day, neg), pcr(-20*day, pos)}},
		{"suspected antigen", []scoring.Event{antigen}},
		{"suspected fever cleared", []scoring.Event{declare(-4*day, scoring.SymptomFever|scoring.SymptomCough, 0), pcr(-3*day, neg)}},
		{"suspected 37.3", []scoring.Event{declare(-2*day, 0, 373)}},
		{"not suspected 37.2", []scoring.Event{declare(-2*day, scoring.SymptomCough, 372)}},
		{"close contact", []scoring.Event{expo(scoring.ExposureClose, -5*day)}},
		{"close contact cleared", []scoring.Event{expo(scoring.ExposureClose, -15*day), pcr(-2*day, neg)}},
		{"close contact early negative", []scoring.Event{expo(scoring.ExposureClose, -15*day), pcr(-10*day, neg)}},
		{"secondary contact", []scoring.Event{expo(scoring.ExposureSecondary, -3*day)}},
		{"secondary contact over", []scoring.Event{expo(scoring.ExposureSecondary, -8*day)}},
		{"companion", []scoring.Event{expo(scoring.ExposureCompanion, -5*day)}},
		{"companion tested out", []scoring.Event{expo(scoring.ExposureCompanion, -5*day), pcr(-4*day, neg), pcr(-2*day, neg)}},
		{"risk area high", []scoring.Event{expo(scoring.ExposureAreaHigh, -10*day)}},
		{"risk area high over", []scoring.Event{expo(scoring.ExposureAreaHigh, -15*day)}},
		{"risk area medium", []scoring.Event{expo(scoring.ExposureAreaMedium, -5*day)}},
		{"risk area medium over", []scoring.Event{expo(scoring.ExposureAreaMedium, -8*day)}},
		{"override red", []scoring.Event{checkin(-2*day, -2*day+hour), override(-1*day, 3*day, 2)}},
		{"override green over confirmed", []scoring.Event{pcr(-5*day, pos), override(-1*day, 3*day, 0)}},
		{"override expired", []scoring.Event{override(-5*day, -1*day, 2), expo(scoring.ExposureSecondary, -2*day)}},
		{"latest override wins", []scoring.Event{override(-10*day, 10*day, 2), override(-2*day, 5*day, 0)}},
		{"override tie smallest id", []scoring.Event{override(-2*day, 1*day, 2), override(-2*day, 2*day, 0)}},
		{"red and yellow", []scoring.Event{pcr(-3*day, pos), expo(scoring.ExposureCompanion, -2*day)}},
		{"two red rules", []scoring.Event{antigen, expo(scoring.ExposureClose, -1*day)}},
		{"two yellow rules", []scoring.Event{expo(scoring.ExposureCompanion, -2*day), expo(scoring.ExposureAreaMedium, -1*day)}},
		{"check-ins only", []scoring.Event{checkin(-3*day, 0), checkin(-1*day, -1*day+2*hour)}},
		{"arrival from a high-risk country", []scoring.Event{arrival(-5*day, "DEU")}},
		{"arrival from home", []scoring.Event{arrival(-5*day, "CHN")}},
		{"old arrival from a high-risk country", []scoring.Event{arrival(-25*day, "DEU"), expo(scoring.ExposureSecondary, -1*day)}},
		{"post-quarantine", []scoring.Event{arrival(-16*day, "DEU")}},
		{"arrival before the designation", []scoring.Event{arrival(-50*day, "DEU")}},
		{"arrival from a medium-risk country", []scoring.Event{arrival(-3*day, "USA")}},
		{"arrival after the medium designation ended", []scoring.Event{arrival(-1*day, "USA")}},
		{"high then medium: second latest arrival counts", []scoring.Event{arrival(-4*day, "ITA"), arrival(-2*day, "FRA")}},
		{"three arrivals: only the two latest", []scoring.Event{arrival(-6*day, "DEU"), arrival(-3*day, "NLD"), arrival(-2*day, "BEL")}},
		{"replaced designation", []scoring.Event{arrival(-3*day, "GBR")}},
		{"same start: larger id wins", []scoring.Event{arrival(-3*day, "ESP")}},
		{"clock", []scoring.Event{checkin(0, hour)}}, // holds the latest occurred_at: now
	}
}

// randomCases adds n persons with random events over the last 30 days: at
// most three negative PCRs each (the engine keeps three; with four inside one
// negative_apart window it may clear a rule late, by design).
func randomCases(rng *rand.Rand, n int) []batchCase {
	var out []batchCase
	for i := range n {
		c := batchCase{name: fmt.Sprintf("random %d", i)}
		negs := 0
		for range 1 + rng.IntN(6) {
			at := -rng.Int64N(30*day) - 1
			switch rng.IntN(7) {
			case 0:
				r := scoring.ResultPositive
				if negs < 3 && rng.IntN(4) > 0 {
					r = scoring.ResultNegative
					negs++
				}
				c.evs = append(c.evs, pcr(at, r))
			case 1:
				a := ev(scoring.KindTest, uint8(scoring.TestAntigen), at, 0)
				a.Result = scoring.Result(1 + rng.IntN(2))
				c.evs = append(c.evs, a)
			case 2:
				c.evs = append(c.evs, declare(at, uint8(rng.IntN(4)), int16(365+rng.IntN(15))))
			case 3, 4:
				c.evs = append(c.evs, expo(scoring.ExposureKind(1+rng.IntN(5)), at))
			case 5:
				c.evs = append(c.evs, override(at, at+rng.Int64N(20*day), uint8(rng.IntN(3))))
			default:
				c.evs = append(c.evs, checkin(at, at+hour))
			}
		}
		out = append(out, c)
	}
	return out
}

// TestBatchSQL_AgreesWithEngine writes constructed events to a real
// ClickHouse, scores them with scoring.Engine as the pipeline does (event
// clock), writes the engine's updates to colours_current, and checks that the
// SQL's colour and reasons equal the engine's for every person, arrival
// rules included (country designations written to area_designations), and
// that the comparison BatchSQL reports agrees on all of them.
func TestBatchSQL_AgreesWithEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	co := chtest.Start(t)
	co.Logger = slog.New(slog.DiscardHandler)
	c, err := clickhouse.Open(ctx, co)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}

	now := scoring.MustTime("2020-03-30T00:00:00Z")
	rng := rand.New(rand.NewPCG(4, 2))
	cases := append(batchCases(), randomCases(rng, 300)...)
	var evs []scoring.Event
	keys := make([]scoring.PersonKey, len(cases))
	names := map[scoring.PersonKey]string{}
	for i, bc := range cases {
		for j := range keys[i] {
			keys[i][j] = byte(rng.Uint32())
		}
		names[keys[i]] = bc.name
		for j, e := range bc.evs {
			e.Person = keys[i]
			e.ID = fmt.Sprintf("ev-%03d-%d", i, j)
			e.Source = "test"
			e.At = scoring.Time(int64(now) + int64(e.At))
			if e.End != 0 {
				e.End = scoring.Time(int64(now) + int64(e.End))
			}
			evs = append(evs, e)
		}
	}
	if err := c.WriteEvents(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}

	// Score as the pipeline's event clock does: timers fire as the clock
	// passes them, each event is decided at the clock.
	eng := scoring.NewEngine(p, scoring.EngineOptions{})
	var ups []scoring.Update
	dayAt := func(d int64) scoring.Time { return scoring.Time(int64(now) + d*day) }
	ds := []scoring.Designation{
		{Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskHigh, From: dayAt(-45), ID: "area-1"},
		{Kind: scoring.AreaCountry, Code: "USA", Level: scoring.RiskMedium, From: dayAt(-10), Until: dayAt(-2), ID: "area-2"},
		{Kind: scoring.AreaCountry, Code: "FRA", Level: scoring.RiskMedium, From: dayAt(-20), ID: "area-3"},
		{Kind: scoring.AreaCountry, Code: "ITA", Level: scoring.RiskHigh, From: dayAt(-20), ID: "area-4"},
		{Kind: scoring.AreaCountry, Code: "GBR", Level: scoring.RiskHigh, From: dayAt(-20), ID: "area-5"},
		{Kind: scoring.AreaCountry, Code: "GBR", Level: scoring.RiskLow, From: dayAt(-5), ID: "area-6"}, // replaces the high one
		{Kind: scoring.AreaCountry, Code: "ESP", Level: scoring.RiskHigh, From: dayAt(-20), ID: "area-7"},
		{Kind: scoring.AreaCountry, Code: "ESP", Level: scoring.RiskLow, From: dayAt(-20), ID: "area-8"}, // same start, larger id
		{Kind: scoring.AreaCountry, Code: "NLD", Level: scoring.RiskHigh, From: dayAt(-20), ID: "area-9"},
		{Kind: scoring.AreaCountry, Code: "BEL", Level: scoring.RiskMedium, From: dayAt(-20), ID: "area-10"},
	}
	for _, d := range ds {
		ups = eng.AddDesignation(d, 0, ups)
	}
	if err := c.WriteDesignations(ctx, ds); err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(evs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At < sorted[j].At })
	var clock scoring.Time
	for i := range sorted {
		if sorted[i].At > clock {
			clock = sorted[i].At
			ups = eng.Advance(clock, ups)
		}
		if ups, err = eng.Apply(&sorted[i], clock, ups); err != nil {
			t.Fatal(err)
		}
	}
	ups = eng.Advance(clock, ups)
	if clock != now {
		t.Fatalf("clock %v, want %v", clock.Std(), now.Std())
	}
	cus := make([]sinks.ColourUpdate, len(ups))
	for i := range ups {
		cus[i] = sinks.NewColourUpdate(p, &ups[i], nil)
	}
	if err := c.WriteColourUpdates(ctx, cus); err != nil {
		t.Fatal(err)
	}

	res, err := runBatchSQL(ctx, c.Conn(), p, co.Database)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Now.Equal(now.Std()) {
		t.Fatalf("now %v, want %v", res.Now, now.Std())
	}
	rows, err := c.Conn().Query(ctx, "SELECT person_key, colour, rules FROM "+co.Database+"."+BatchTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	ruled := map[string]bool{}
	for rows.Next() {
		var hex, colour string
		var rules []string
		if err := rows.Scan(&hex, &colour, &rules); err != nil {
			t.Fatal(err)
		}
		seen++
		k, err := scoring.ParsePersonKey(hex)
		if err != nil {
			t.Fatal(err)
		}
		d, _, ok := eng.Decide(k, now)
		if !ok {
			t.Errorf("%s: SQL has a person the engine never saw", hex)
			continue
		}
		var want []string
		for _, a := range d.Top {
			if a.Rule < 0 {
				want = append(want, "override")
			} else {
				want = append(want, p.Rules[a.Rule].ID)
			}
		}
		slices.Sort(want)
		slices.Sort(rules)
		for _, r := range rules {
			ruled[r] = true
		}
		if colour != p.Colours[d.Level] || !slices.Equal(rules, want) {
			t.Errorf("%s: SQL %s %v, engine %s %v", names[k], colour, rules, p.Colours[d.Level], want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(cases) {
		t.Errorf("SQL decided %d persons, want %d", seen, len(cases))
	}
	// Every rule was decided for someone.
	for _, r := range p.Rules {
		if !ruled[r.ID] {
			t.Errorf("no person has rule %s among their reasons: the cases do not cover it", r.ID)
		}
	}

	// The section itself: its comparison with colours_current agrees on
	// every person.
	o := &Options{Quick: true, ClickHouse: co, E2EDatabase: co.Database, Logger: co.Logger}
	r := NewReport()
	if err := BatchSQL(ctx, o, r); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"sql_agrees": 1, "sql_persons": float64(len(cases)), "sql_disagree": 0, "sql_rules_agree": 1,
	}
	for k, v := range want {
		if got := r.Value(k); got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if got := r.Value("sql_batch_seconds"); !(got > 0) {
		t.Errorf("sql_batch_seconds = %v", got)
	}
	t.Log(r.Notes)
}
