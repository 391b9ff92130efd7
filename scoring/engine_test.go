package scoring_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
)

func TestEngine_TimerFiresOnTime(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("x1", scoring.ExposureClose, t0))
	r.step(negPCR("n1", at("12d")))
	before, _ := r.last(alice)
	if before.Level != 2 || before.Review != at("14d") {
		t.Fatalf("after the test: level %d review %s, want red until day 14", before.Level, fmtTime(before.Review))
	}
	if got := r.eng.NextTimer(); got != at("14d") {
		t.Fatalf("NextTimer %s, want day 14", fmtTime(got))
	}
	n := len(r.updates)
	r.advance(at("14d", "-1s"))
	if len(r.updates) != n {
		t.Fatalf("an update fired one second early: %+v", r.updates[n:])
	}
	r.advance(at("14d"))
	if len(r.updates) != n+1 {
		t.Fatalf("Advance to day 14 gave %d updates, want 1", len(r.updates)-n)
	}
	u := r.updates[n]
	if u.Level != 0 || u.Previous != 2 || u.Effective != at("14d") || u.Review != 0 || u.Version != before.Version+1 {
		t.Errorf("timer update %+v: want green from red, effective day 14, version %d, no review", u, before.Version+1)
	}
	if got := r.eng.NextTimer(); got != 0 {
		t.Errorf("NextTimer after the last timer: %s", fmtTime(got))
	}
	checkConsistent(t, r.eng.Policy(), r.of(alice))
}

// A timer that fires late (the clock jumped) still reports each change at the
// instant it took effect, with the colour of that instant.
func TestEngine_AdvanceCatchesUp(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(country("r-deu", "DEU", high, at("-10d"), 0))
	r.step(arrival("f1", t0, "DEU"))
	n := len(r.updates)
	r.advance(at("30d"))
	got := r.updates[n:]
	want := []struct {
		level     uint8
		effective scoring.Time
		review    scoring.Time
		rule      string
	}{{1, at("14d"), at("21d"), "post-quarantine"}, {0, at("21d"), 0, ""}}
	if len(got) != len(want) {
		t.Fatalf("Advance over 30 days gave %d updates, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		u := got[i]
		rule := strings.Join(ruleIDs(u.Reasons), ",")
		if u.Level != w.level || u.Effective != w.effective || u.Review != w.review || rule != w.rule {
			t.Errorf("update %d: level %d effective %s review %s rules %q; want %d %s %s %q", i,
				u.Level, fmtTime(u.Effective), fmtTime(u.Review), rule, w.level, fmtTime(w.effective), fmtTime(w.review), w.rule)
		}
	}
	checkConsistent(t, r.eng.Policy(), r.of(alice))
}

// A review made obsolete by a new event fires nothing.
func TestEngine_SupersededTimer(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("c1", scoring.ExposureCompanion, t0))
	if got := r.eng.NextTimer(); got != at("14d") {
		t.Fatalf("NextTimer %s, want day 14", fmtTime(got))
	}
	r.step(negPCR("n1", at("1d")))
	r.step(negPCR("n2", at("2d")))
	u, _ := r.last(alice)
	if u.Level != 0 || u.Effective != at("2d") {
		t.Fatalf("after two negatives: level %d effective %s, want green at day 2", u.Level, fmtTime(u.Effective))
	}
	if got := r.eng.NextTimer(); got != 0 {
		t.Errorf("NextTimer %s, want none", fmtTime(got))
	}
	n := len(r.updates)
	r.advance(at("20d"))
	if len(r.updates) != n {
		t.Errorf("a superseded timer fired: %+v", r.updates[n:])
	}
}

// Timers of many persons fire in time order, each at its own review time.
func TestEngine_TimersManyPersons(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 500
	var ups []scoring.Update
	want := map[scoring.PersonKey]scoring.Time{}
	for i := range n {
		k := personKey(100 + i)
		x := at(fmt.Sprintf("%ds", rng.IntN(7*86400)))
		var err error
		ups, err = eng.Apply(&scoring.Event{Person: k, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureSecondary), At: x, ID: fmt.Sprint("s", i)}, t0, ups)
		if err != nil {
			t.Fatal(err)
		}
		want[k] = x.Add(7 * 24 * time.Hour)
	}
	ups = eng.Advance(at("30d"), ups[:0])
	if len(ups) != n {
		t.Fatalf("%d timer updates, want %d", len(ups), n)
	}
	for i, u := range ups {
		if u.Level != 0 || u.Effective != want[u.Person] {
			t.Errorf("%s: level %d effective %s, want green at %s", u.Person, u.Level, fmtTime(u.Effective), fmtTime(want[u.Person]))
		}
		if i > 0 && u.Effective < ups[i-1].Effective {
			t.Errorf("timer %d fired out of order", i)
		}
	}
}

func TestEngine_FirstUpdateAndUnknownPerson(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	bob := personKey(2)
	if _, _, ok := eng.Decide(bob, t0); ok {
		t.Fatal("Decide knows a person never seen")
	}
	if ups := eng.Advance(at("100d"), nil); len(ups) != 0 {
		t.Fatalf("Advance on an empty engine: %+v", ups)
	}
	// A healthy daily report: the person is green, and the first update says so.
	ups, err := eng.Apply(&scoring.Event{Person: alice, Kind: scoring.KindDeclaration, At: t0, ID: "d1"}, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Person != alice || ups[0].Previous != -1 || ups[0].Version != 1 || ups[0].Level != 0 ||
		len(ups[0].Reasons) != 0 || ups[0].Review != 0 || ups[0].Effective != t0 {
		t.Fatalf("first update %+v: want green, previous -1, version 1, effective now", ups)
	}
	if _, _, ok := eng.Decide(bob, t0); ok || eng.Len() != 1 {
		t.Errorf("bob known after alice's event (len %d)", eng.Len())
	}
	ups, _ = eng.Apply(&scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at("1h"), ID: "x1"}, at("1h"), nil)
	if len(ups) != 1 || ups[0].Previous != 0 || ups[0].Version != 2 || ups[0].Level != 2 {
		t.Errorf("second update %+v: want red from green, version 2", ups)
	}
}

func TestEngine_ApplyRefusesBadEvents(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	for _, ev := range []scoring.Event{
		{Person: alice, Kind: scoring.KindTick, At: t0},
		{Person: alice, Kind: scoring.KindArea, At: t0, ID: "area"},
		{Person: alice, Kind: scoring.KindInvalid, At: t0},
		{Person: alice, Kind: scoring.Kind(200), At: t0},
		{Kind: scoring.KindDeclaration, At: t0, ID: "no-person"},
		{Person: alice, Kind: scoring.KindDeclaration, ID: "no-time"},
		{Person: alice, Kind: scoring.KindOverride, At: t0, End: at("1d"), Level: 3, ID: "level-3"},
	} {
		ups, err := eng.Apply(&ev, t0, nil)
		if !errors.Is(err, scoring.ErrBadEvent) || len(ups) != 0 {
			t.Errorf("%v %q: err %v, %d updates; want ErrBadEvent and none", ev.Kind, ev.ID, err, len(ups))
		}
	}
	if eng.Len() != 0 {
		t.Errorf("refused events added %d persons", eng.Len())
	}
}

func TestEngine_NoUpdateWithoutVisibleChange(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("c1", scoring.ExposureCompanion, t0))
	n := len(r.updates)
	for _, s := range []step{
		declaration("d1", at("1h"), 0, 365),
		declaration("d2", at("2h"), scoring.SymptomCough, 0),
		evStep(scoring.Event{Kind: scoring.KindVaccination, Dose: 2, At: at("3h"), ID: "v1"}),
		negPCR("n1", at("4h")), // one negative: companion needs two
		antigen("a1", at("5h"), neg),
		arrival("f1", at("6h"), "CHN"),
		arrival("f2", at("7h"), "FRA"), // undesignated country
		checkin("k1", at("8h"), at("9h"), venueCell),
		travel("t1", at("10h"), at("20h"), "330102", 0),
		exposure("c0", scoring.ExposureCompanion, at("-1h")), // older than the one known
	} {
		r.step(s)
	}
	if len(r.updates) != n {
		t.Errorf("events that change nothing visible issued %d updates: %+v", len(r.updates)-n, r.updates[n:])
	}
	r.step(exposure("c2", scoring.ExposureCompanion, at("1d")))
	if len(r.updates) != n+1 {
		t.Fatalf("a later exposure issued %d updates, want 1", len(r.updates)-n)
	}
	if u := r.updates[n]; u.Level != 1 || u.Previous != 1 || u.Reasons[0].Until != at("15d") || u.Reasons[0].Evidence[0] != "c2" {
		t.Errorf("update %+v: want yellow until day 15 on c2", u)
	}
	checkConsistent(t, r.eng.Policy(), r.of(alice))
}

// Two copies of one event are one event: no update, no fact change, nothing
// for the changelog.
func TestEngine_DuplicateEvents(t *testing.T) {
	inputs := []step{
		posPCR("p1", t0),
		negPCR("n1", at("1d")),
		negPCR("n2", at("1d", "1h")),
		negPCR("n3", at("1d", "2h")),
		negPCR("n4", at("1d", "3h")),
		antigen("a1", at("2h"), pos),
		declaration("d1", at("3h"), scoring.SymptomFever, 390),
		exposure("x1", scoring.ExposureClose, at("4h")),
		exposure("x2", scoring.ExposureCompanion, at("4h")),
		exposure("x3", scoring.ExposureSecondary, at("4h")),
		exposure("x4", scoring.ExposureAreaHigh, at("4h")),
		exposure("x5", scoring.ExposureAreaMedium, at("4h")),
		arrival("f1", at("5h"), "DEU"),
		arrival("f2", at("6h"), "USA"),
		arrival("f3", at("7h"), "FRA"),
		travel("t1", at("-2d"), at("-1d"), "330102", 0),
		checkin("k1", at("-2d"), 0, venueCell),
		evStep(scoring.Event{Kind: scoring.KindVaccination, Dose: 1, At: at("8h"), ID: "v1"}),
		override("o1", at("9h"), at("2d"), 0, "appeal"),
	}
	r := newRunner(t, "domestic")
	r.step(region("r-hz", "330102", high, at("-5d"), 0))
	r.step(designate("r-h7", scoring.AreaH3, "", venueRes7, medium, at("-5d"), 0))
	r.step(country("r-deu", "DEU", high, at("-5d"), 0))
	for _, s := range inputs {
		r.step(s)
	}
	r.eng.TakeDirty()
	state, _ := r.eng.AppendState(nil, alice)
	n := len(r.updates)
	for _, s := range inputs {
		r.step(s)
		if len(r.updates) != n {
			t.Errorf("duplicate %s issued an update: %+v", s.ev.ID, r.updates[n:])
			n = len(r.updates)
		}
		if d := r.eng.TakeDirty(); len(d) != 0 {
			t.Errorf("duplicate %s changed the state", s.ev.ID)
		}
		if again, _ := r.eng.AppendState(nil, alice); !bytes.Equal(again, state) {
			t.Errorf("duplicate %s changed the facts", s.ev.ID)
			state = again
		}
	}
}

// "Two copies of one negative PCR are one negative PCR."
func TestEngine_DuplicateNegativeCountsOnce(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(posPCR("p1", t0))
	r.step(negPCR("n1", at("13d")))
	r.step(negPCR("n1", at("13d")))
	r.advance(at("14d", "1d"))
	u, _ := r.last(alice)
	if u.Level != 2 {
		t.Errorf("two copies of one negative cleared a confirmed case")
	}
	r.step(negPCR("n2", at("14d")))
	r.advance(at("15d"))
	if u, _ = r.last(alice); u.Level != 0 {
		t.Errorf("a second negative 24h later did not clear: level %d", u.Level)
	}
}

// render is a decision in words, for comparing engines fed differently.
func render(eng *scoring.Engine, k scoring.PersonKey, now scoring.Time) string {
	d, _, ok := eng.Decide(k, now)
	if !ok {
		return "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s review=%s", eng.Policy().Colours[d.Level], fmtTime(d.Review))
	for _, a := range d.All {
		id := "override"
		if a.Rule >= 0 {
			id = eng.Policy().Rules[a.Rule].ID
		}
		fmt.Fprintf(&b, " [%s level=%d anchor=%s until=%s evidence=%s", id, a.Level, fmtTime(a.Anchor), fmtTime(a.Until), eng.Evidence(a.Ref))
		if a.Area != nil {
			fmt.Fprintf(&b, "+%s", a.Area.ID)
		}
		b.WriteString("]")
	}
	return b.String()
}

// renderUpdate is an update without its version and effective time.
func renderUpdate(p *scoring.Policy, u scoring.Update) string {
	s := fmt.Sprintf("%s review=%s", p.Colours[u.Level], fmtTime(u.Review))
	for _, r := range u.Reasons {
		s += fmt.Sprintf(" [%s until=%s evidence=%v text=%q]", r.RuleID(), fmtTime(r.Until), r.Evidence, r.Text)
	}
	return s
}

// The same inputs in any order give the same final decisions.
func TestEngine_OrderIndependence(t *testing.T) {
	p1, p2, p3 := personKey(11), personKey(12), personKey(13)
	with := func(k scoring.PersonKey, s step) step { s.ev.Person = k; return s }
	inputs := []step{
		with(p1, posPCR("p1", t0)), with(p1, posPCR("p1b", at("2d"))),
		with(p1, negPCR("n1", at("3d"))), with(p1, negPCR("n2", at("4d"))), with(p1, negPCR("n3", at("4d", "2h"))),
		with(p1, negPCR("n4", at("5d"))), with(p1, negPCR("n1", at("3d"))), // a duplicate
		with(p1, antigen("a1", at("1d"), pos)), with(p1, declaration("d1", at("1d"), scoring.SymptomFever, 0)),
		with(p2, exposure("x1", scoring.ExposureClose, at("1d"))), with(p2, exposure("x0", scoring.ExposureClose, at("1d"))),
		with(p2, exposure("c1", scoring.ExposureCompanion, at("2d"))), with(p2, negPCR("n5", at("13d"))),
		with(p2, exposure("s1", scoring.ExposureSecondary, at("3d"))),
		with(p2, override("o1", at("5d"), at("6d"), 0, "first")), with(p2, override("o0", at("5d"), at("7d"), 1, "tie")),
		with(p3, arrival("f1", at("1d"), "DEU")), with(p3, arrival("f2", at("3d"), "FRA")), with(p3, arrival("f3", at("5d"), "USA")),
		with(p3, travel("t1", at("6d"), at("7d"), "330102", 0)), with(p3, checkin("k1", at("6d"), at("6d", "30m"), venueCell)),
		country("r-deu", "DEU", high, at("-10d"), 0), country("r-usa", "USA", medium, at("4d"), 0),
		country("r-fra-a", "FRA", high, at("-1d"), 0), country("r-fra-b", "FRA", low, at("-1d"), 0), // same start: the larger id wins
		country("r-usa-2", "USA", low, at("6d"), 0),
	}
	// Region and cell designations are judged when a stay is applied (the
	// tracing stage turns late ones into exposure events), so they come first.
	fixed := []step{
		region("r-hz", "330102", high, at("-5d"), 0),
		designate("r-h8", scoring.AreaH3, "", venueRes8, medium, at("-5d"), 0),
	}
	ends := []scoring.Time{at("13d"), at("14d"), at("16d"), at("17d"), at("19d"), at("21d"), at("30d")}
	persons := []scoring.PersonKey{p1, p2, p3}
	var want []string
	for seed := range uint64(12) {
		order := slices.Clone(inputs)
		if seed > 0 {
			rng := rand.New(rand.NewPCG(seed, 7))
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		r := newRunner(t, "domestic")
		for _, s := range append(slices.Clone(fixed), order...) {
			r.step(s)
		}
		var got []string
		for _, end := range ends {
			r.advance(end)
			for _, k := range persons {
				u, _ := r.last(k)
				got = append(got, fmt.Sprintf("%s@%s: %s | %s", k.String()[:6], fmtTime(end), render(r.eng, k, end), renderUpdate(r.eng.Policy(), u)))
			}
		}
		for _, k := range persons {
			checkConsistent(t, r.eng.Policy(), r.of(k))
		}
		if seed == 0 {
			want = got
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("seed %d:\n got %s\nwant %s", seed, got[i], want[i])
			}
		}
	}
}

func TestEngine_SetPolicy(t *testing.T) {
	r := newRunner(t, "domestic")
	red, yellow, green := personKey(21), personKey(22), personKey(23)
	s := posPCR("p1", t0)
	s.ev.Person = red
	r.step(s)
	s = exposure("c1", scoring.ExposureCompanion, t0)
	s.ev.Person = yellow
	r.step(s)
	s = declaration("d1", t0, 0, 365)
	s.ev.Person = green
	r.step(s)
	versions := map[scoring.PersonKey]uint32{}
	for _, u := range r.updates {
		versions[u.Person] = u.Version
	}
	ups := r.eng.SetPolicy(loadPolicy(t, "tianjin"), at("1h"), nil)
	// Only the yellow person shows something new (orange); red and green read the same.
	if len(ups) != 1 || ups[0].Person != yellow {
		t.Fatalf("SetPolicy updates %+v, want one for the yellow person", ups)
	}
	u := ups[0]
	if p := r.eng.Policy(); p.Colours[u.Level] != "orange" || u.Previous != 1 || u.Version != versions[yellow]+1 || u.Effective != at("1h") {
		t.Errorf("update %+v: want orange, previous 1, version %d, effective now", u, versions[yellow]+1)
	}
	if r.eng.Policy().Stamp() != "tianjin@1" {
		t.Errorf("policy %s after SetPolicy", r.eng.Policy().Stamp())
	}
	// International: the yellow person is still yellow with the same text,
	// the red one becomes orange; and since international issues no code
	// before a return-journey declaration, every update (the green person's
	// too) now says so.
	ups = r.eng.SetPolicy(loadPolicy(t, "international"), at("2h"), nil)
	var got []string
	for _, u := range ups {
		got = append(got, fmt.Sprintf("%s=%s/%v", u.Person, r.eng.Policy().Colours[u.Level], u.DeclarationRequired))
	}
	want := []string{red.String() + "=orange/true", yellow.String() + "=yellow/true", green.String() + "=green/true"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("international: updates %v, want %v", got, want)
	}
}

func TestEngine_TakeDirty(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("c1", scoring.ExposureCompanion, t0))
	if d := r.eng.TakeDirty(); len(d) != 1 || d[0] != alice {
		t.Fatalf("TakeDirty %v, want [alice]", d)
	}
	if d := r.eng.TakeDirty(); len(d) != 0 {
		t.Fatalf("second TakeDirty %v, want none", d)
	}
	// A timer that changes the decision changes the state (version, review).
	r.advance(at("14d"))
	if d := r.eng.TakeDirty(); len(d) != 1 {
		t.Fatalf("TakeDirty after the timer %v, want [alice]", d)
	}
}
