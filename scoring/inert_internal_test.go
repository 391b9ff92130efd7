package scoring

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// inert may only say so where the full decision is green with no reason and
// no review: random histories of every kind of event (and their state
// records reloaded) under each shipped policy, judged at many instants.
func TestInert_OnlyWhereDecisionIsEmpty(t *testing.T) {
	for _, name := range []string{"domestic", "tianjin", "international"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("../policies/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePolicy(raw)
			if err != nil {
				t.Fatal(err)
			}
			checkInert(t, p, rand.New(rand.NewPCG(7, uint64(len(name)))))
		})
	}
}

func checkInert(t *testing.T, p *Policy, rng *rand.Rand) {
	const day = 86400
	t0 := MustTime("2020-03-01T00:00:00Z")
	e := NewEngine(p, EngineOptions{})
	e.AddDesignations([]Designation{
		{Kind: AreaCountry, Code: "USA", Level: RiskHigh, From: t0, ID: "a-usa"},
		{Kind: AreaCountry, Code: "DEU", Level: RiskMedium, From: t0 + 20*day, ID: "a-deu"},
	}, t0, nil)
	persons := make([]PersonKey, 300)
	for i := range persons {
		persons[i] = PersonKey{byte(i + 1), byte(i >> 8), 0xA5}
	}
	countries := []string{"USA", "DEU", "CHN", "JPN"}
	inert, checked := 0, 0 // inert: of persons with cold facts
	for n := range 4000 {
		at := t0 + Time(rng.IntN(60*day))
		ev := Event{Person: persons[rng.IntN(len(persons))], At: at, ID: fmt.Sprintf("e%04d", n)}
		switch rng.IntN(9) {
		case 0:
			ev.Kind, ev.Sub, ev.Result, ev.End = KindTest, uint8(TestPCR), ResultNegative, at+3600
			if rng.IntN(8) == 0 {
				ev.Result = ResultPositive
			}
		case 1:
			ev.Kind, ev.Sub, ev.Result = KindTest, uint8(TestAntigen), ResultPositive
		case 2:
			ev.Kind, ev.TempDeci = KindDeclaration, int16(365+rng.IntN(12))
		case 3:
			c := countries[rng.IntN(len(countries))]
			ev.Kind, ev.Country, ev.Place, ev.Text, ev.End = KindArrival, c, fmt.Sprintf("CA%d/2020-03-%02d", rng.IntN(3), 1+rng.IntN(28)), "HGH", at-10*3600
		case 4:
			ev = JourneyEvent(ev.Person, at, ev.ID, "decl", Journey{Origin: "DEU", City: "Frankfurt",
				Flights: []string{"CA1/2020-03-10"}, Port: "HGH", Region: "330102", Planned: at + 2*day})
		case 5:
			ev.Kind, ev.Level, ev.End, ev.Text = KindOverride, uint8(rng.IntN(len(p.Colours))), at+Time(rng.IntN(10*day)), "note"
		case 6:
			ev.Kind, ev.Place = KindTravel, "330102"
		default:
			ev.Kind, ev.Sub = KindExposure, uint8(1+rng.IntN(numExposureKinds))
			ev.ID, ev.Version = fmt.Sprintf("x%02d", rng.IntN(60)), uint64(rng.IntN(4))
			ev.Retracted = rng.IntN(5) == 0
			ev.End = at + Time(rng.IntN(3*day))
		}
		if _, err := e.Apply(&ev, at, nil); err != nil {
			t.Fatal(err)
		}
		if n%400 == 399 {
			// Reloaded persons summarise their cold records anew.
			for _, k := range persons {
				if rec, ok := e.AppendState(nil, k); ok {
					if _, err := e.LoadState(rec); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if n%50 != 0 {
			continue
		}
		for idx := range e.facts {
			f := &e.facts[idx]
			for range 4 {
				now := t0 + Time(rng.IntN(100*day))
				checked++
				if f.flags&declared != 0 || !e.inert(f, now) {
					continue
				}
				if f.Seen != 0 {
					inert++
				}
				ps := e.person(uint32(idx))
				if d := e.decide(&ps, now, nil); d.Level != 0 || len(d.All) != 0 || d.Review != 0 {
					t.Fatalf("person %d at %d judged inert, decided level %d, %d rules, review %d", idx, now, d.Level, len(d.All), d.Review)
				}
			}
		}
	}
	// The check must have met many inert persons with cold facts, not only
	// persons who never had any.
	if inert < checked/20 {
		t.Fatalf("%d of %d judged inert with cold facts: the histories test little", inert, checked)
	}
	t.Logf("%d of %d judged inert with cold facts", inert, checked)
}
