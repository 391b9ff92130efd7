package sim

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sources"
)

// TestRun_Journeys runs a province with its journey truth, decodes every
// message with the real decoder and applies it to a scoring engine as the
// score stage does (event clock, timers before each input), then scores
// every returnee's journey against the truth: the engine's status (and
// other-flight mark) must be the truth's for every declared returnee, and no
// undeclared one may have a journey. The run must hold every case: crew,
// undeclared passengers, changed flights amended and not, travel-ons that
// reached the province and not yet, no-shows and future journeys; and over
// 16 days, returnees released after their 14 days.
func TestRun_Journeys(t *testing.T) {
	for _, c := range []struct {
		policy       string
		people, days int
		statuses     []string
	}{
		{"international", 6000, 6, []string{"declared", "landed", "quarantine"}},
		{"domestic", 6000, 6, []string{"declared", "landed", "arrived", "quarantine"}},
		{"international", 2000, 16, []string{"declared", "landed", "quarantine", "released"}},
	} {
		t.Run(fmt.Sprintf("%s %d days", c.policy, c.days), func(t *testing.T) {
			pol, err := policies.Load(c.policy)
			if err != nil {
				t.Fatal(err)
			}
			var journeys bytes.Buffer
			r := collect(t, Config{People: c.people, Days: c.days, Seed: 7, Journeys: &journeys, Policy: pol})
			truth, err := ReadJourneys(&journeys)
			if err != nil {
				t.Fatal(err)
			}
			if len(truth) != r.sum.Returnees || r.sum.Declared == 0 {
				t.Fatalf("%d truth lines, summary %d returnees, %d declared", len(truth), r.sum.Returnees, r.sum.Declared)
			}
			dec, err := sources.NewDecoder(sources.Config{Key: testKey, Colours: pol.Colours, Now: func() time.Time { return time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC) }})
			if err != nil {
				t.Fatal(err)
			}
			eng := scoring.NewEngine(pol, scoring.EngineOptions{})
			var clock scoring.Time
			var b sources.Batch
			for _, m := range r.msgs {
				b.Reset()
				if err := dec.Decode(m.stream, m.value, &b); err != nil {
					t.Fatalf("%s message rejected: %v\n%s", m.stream, err, m.value)
				}
				for _, d := range b.Areas {
					clock = max(clock, d.From)
					eng.Advance(clock, nil)
					eng.AddDesignation(d, clock, nil)
				}
				for i := range b.Events {
					ev := &b.Events[i]
					clock = max(clock, ev.At)
					eng.Advance(clock, nil)
					if _, err := eng.Apply(ev, clock, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			eng.Advance(clock, nil)

			cases := map[string]int{}
			statuses := map[string]int{}
			wrong := 0
			for _, jt := range truth {
				k, err := scoring.ParsePersonKey(jt.PersonKey)
				if err != nil {
					t.Fatal(err)
				}
				v, ok := eng.JourneyAt(k, clock)
				got := "none"
				if ok {
					got = fmt.Sprintf("%s other=%v", v.Status, v.OtherFlight)
				}
				want := "none"
				if jt.Declared {
					want = fmt.Sprintf("%s other=%v", jt.Status, jt.OtherFlight)
					statuses[jt.Status]++
				}
				if got != want {
					if wrong++; wrong <= 10 {
						t.Errorf("returnee %s (%+v): journey %s, want %s", jt.PersonKey, jt, got, want)
					}
				}
				switch {
				case jt.Kind != "passenger":
					cases[jt.Kind]++
				case !jt.Declared:
					cases["undeclared"]++
				case jt.Changed && jt.Amended:
					cases["amended"]++
				case jt.Changed:
					cases["changed, not amended"]++
				case jt.TravelOn && jt.Status == "landed":
					cases["travel-on, not yet in the province"]++
				case jt.TravelOn:
					cases["travel-on, in the province"]++
				default:
					cases["declared"]++
				}
			}
			t.Logf("%d returnees: %v; statuses %v; %d wrong", len(truth), cases, statuses, wrong)
			for _, k := range []string{"crew", "no_show", "future", "undeclared", "amended", "changed, not amended",
				"travel-on, in the province", "declared"} {
				if cases[k] == 0 {
					t.Errorf("no returnee of the case %q", k)
				}
			}
			for _, st := range c.statuses {
				if statuses[st] == 0 {
					t.Errorf("no journey ends %s", st)
				}
			}
		})
	}
}
