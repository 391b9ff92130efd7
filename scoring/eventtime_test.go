package scoring_test

import (
	"fmt"
	"strings"
	"testing"

	"healthcode/scoring"
)

// With EngineOptions.EventTime a person's updates (versions, colours,
// reasons, review and effective times) follow from the person's own events
// and their order, not from how far the clock had moved when each came: the
// same events, applied with the clock at each event's own time or far ahead
// of it (other persons' input already read), give the same updates, as long
// as the clock has not fired a review of the person's past an event still to
// come (a late event: the score stage cannot know it will come). The
// events are in time order; an arrival from a high-risk country sets a
// review that falls between two of them.
func TestEventTime_UpdatesDoNotDependOnTheClock(t *testing.T) {
	events := []step{
		checkin("c1", at("0h"), at("1h"), 0x8a2a1072b59ffff),
		arrival("a1", at("1d"), "USA"), // red for 14 days: a review at day 15
		exposure("x1", scoring.ExposureClose, at("2h")),
		negPCR("n1", at("3d")),
		posPCR("p1", at("5d")),
		negPCR("n2", at("16d")), // after the review
		checkin("c2", at("30d"), at("30d1h"), 0x8a2a1072b59ffff),
	}
	// ahead: how far the clock is past each event when it is applied;
	// fired: whether the clock's timers were fired before it (the score
	// stage fires them when the clock moves, which another person's input
	// may or may not have done yet).
	run := func(ahead string, fired bool) string {
		eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{EventTime: true})
		ups := eng.AddDesignation(*country("d1", "USA", scoring.RiskHigh, at("-1d"), 0).des, at("-1d"), nil)
		for _, s := range events {
			now := s.ev.At + at(ahead) - t0
			if fired {
				ups = eng.Advance(now, ups)
			}
			var err error
			if ups, err = eng.Apply(s.ev, now, ups); err != nil {
				t.Fatal(err)
			}
		}
		ups = eng.Advance(at("60d"), ups)
		var b strings.Builder
		for _, u := range ups {
			fmt.Fprintf(&b, "v%d level %d prev %d effective %s review %s %v\n", u.Version, u.Level, u.Previous,
				fmtTime(u.Effective), fmtTime(u.Review), ruleIDs(u.Reasons))
		}
		return b.String()
	}
	want := run("0h", true)
	if !strings.Contains(want, "review 2020-03-16") {
		t.Fatalf("the scenario has no review between its events, so it tells nothing:\n%s", want)
	}
	for _, ahead := range []string{"0h", "1h", "20h", "3d", "12d"} {
		for _, fired := range []bool{true, false} {
			if fired && ahead == "12d" {
				continue // past the review before the positive PCR comes: below
			}
			if got := run(ahead, fired); got != want {
				t.Errorf("clock %s ahead of the events, its timers fired %v:\n%s\nwant (clock at each event):\n%s", ahead, fired, got, want)
			}
		}
	}
	// An event that comes after the clock has fired one of the person's
	// later review times is decided at that review, the person's latest
	// decision, never before it: the history differs, its dates never go back.
	late := run("12d", true)
	if late == want {
		t.Errorf("an event later than a fired review changed nothing; the scenario no longer tests lateness:\n%s", late)
	}
	last := ""
	for _, line := range strings.Split(strings.TrimSpace(late), "\n") {
		eff := strings.Fields(line)[6]
		if eff < last {
			t.Errorf("effective time went back to %s after %s:\n%s", eff, last, late)
		}
		last = eff
	}
}

// Without EventTime (the wall clock's mode) a decision is dated at the now
// Apply is given, as before.
func TestEventTime_OffDecidesAtNow(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	ev := negPCR("n1", at("1d")).ev
	ups, err := eng.Apply(ev, at("2d"), nil)
	if err != nil || len(ups) != 1 || ups[0].Effective != at("2d") {
		t.Fatalf("updates %+v, %v: want one dated at now", ups, err)
	}
	on := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{EventTime: true})
	if ups, _ := on.Apply(ev, at("2d"), nil); len(ups) != 1 || ups[0].Effective != at("1d") {
		t.Fatalf("event time: updates %+v: want one dated at the event", ups)
	}
}

// The time of a person's latest decision survives the state record: a
// restored engine decides a late event no earlier than the engine that wrote
// the record would have.
func TestEventTime_LatestDecisionIsRestored(t *testing.T) {
	pol := loadPolicy(t, "domestic")
	eng := scoring.NewEngine(pol, scoring.EngineOptions{EventTime: true})
	for _, s := range []step{checkin("c1", at("0h"), at("1h"), 0x8a2a1072b59ffff), negPCR("n1", at("3d"))} {
		if _, err := eng.Apply(s.ev, s.ev.At, nil); err != nil {
			t.Fatal(err)
		}
	}
	rec, ok := eng.AppendState(nil, alice)
	if !ok {
		t.Fatal("no state record")
	}
	late := exposure("x1", scoring.ExposureClose, at("2h")).ev
	want, err := eng.Apply(late, at("3d"), nil)
	if err != nil || len(want) != 1 || want[0].Effective != at("3d") {
		t.Fatalf("writer: updates %+v, %v; want one at the latest decision (day 3)", want, err)
	}
	fresh := scoring.NewEngine(pol, scoring.EngineOptions{EventTime: true})
	if _, err := fresh.LoadState(rec); err != nil {
		t.Fatal(err)
	}
	got, err := fresh.Apply(late, at("3d"), nil)
	if err != nil || len(got) != 1 || got[0].Effective != want[0].Effective || got[0].Version != want[0].Version {
		t.Errorf("restored: updates %+v, %v; want %+v", got, err, want)
	}
}
