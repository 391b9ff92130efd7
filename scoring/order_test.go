package scoring_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// venueStay is a check-in of person k at venue v (no cell) from from to until.
func venueStay(k scoring.PersonKey, id, v string, from, until scoring.Time) step {
	s := checkin(id, from, until, 0)
	s.ev.Person, s.ev.Place = k, v
	return s
}

func of(k scoring.PersonKey, s step) step { s.ev.Person = k; return s }

// currentExposures renders the current set of the exposures a runner's
// tracer emitted: the highest version of each id, not retracted.
func currentExposures(t testing.TB, xs []tracing.Exposure, names map[scoring.PersonKey]string) []string {
	last := map[string]tracing.Exposure{}
	for _, x := range xs {
		if p, ok := last[x.ID]; ok && p.Version >= x.Version {
			t.Errorf("exposure %s: version %d after %d", x.ID, x.Version, p.Version)
		}
		last[x.ID] = x
	}
	var out []string
	for _, x := range last {
		if !x.Retracted {
			out = append(out, fmt.Sprintf("%d %s<-%s %s %s..%s at %s first %s w %s %v", x.Kind, names[x.Exposed], names[x.Source], x.Place,
				fmtTime(x.Start), fmtTime(x.End), fmtTime(x.At), fmtTime(x.First), fmtTime(x.WindowEnd), x.Evidence))
		}
	}
	slices.Sort(out)
	return out
}

// The outcome does not depend on the interleaving of input, with a contact
// tracer in the loop (as the pipeline runs it): a case whose later positive
// is processed first (exposures found under the later window are replaced or
// retracted, and the secondary contacts under them too), a region lowered from
// high to low on day 5 (what the high designation gave for stays after day 5
// is taken back), and six negatives inside one day clearing a rule exactly
// when two of them 24 h apart allow. Every one of 12 orders gives the same
// colours, reasons and current exposures, and those are the ones the final
// inputs define.
func TestEngine_OrderIndependenceWithRetractions(t *testing.T) {
	cs, c1, c2, c3, s1, s2, a1, a2, n1 := personKey(41), personKey(42), personKey(43), personKey(44), personKey(45),
		personKey(46), personKey(47), personKey(48), personKey(49)
	names := map[scoring.PersonKey]string{cs: "case", c1: "c1", c2: "c2", c3: "c3", s1: "s1", s2: "s2", a1: "a1", a2: "a2", n1: "n1", {}: "-"}
	posA := of(cs, posPCR("pcr-later", at("3d"))) // reported 6 h later: window from day 1 to day 3 6h
	posB := of(cs, posPCR("pcr-first", at("1d"))) // the first sample: window from day -1 to day 1 6h
	inputs := []step{
		posA, posB,
		// At the case's venue: c1 only inside the later window (retracted),
		// c2 only inside the first (found late), c3 in both (replaced: the
		// window end changes).
		venueStay(cs, "v-case-1", "V1", at("2d"), at("2d", "2h")), venueStay(c1, "v-c1", "V1", at("2d"), at("2d", "1h")),
		venueStay(cs, "v-case-2", "V2", at("-12h"), at("-10h")), venueStay(c2, "v-c2", "V2", at("-12h"), at("-11h")),
		venueStay(cs, "v-case-3", "V3", at("20h"), at("22h")), venueStay(c3, "v-c3", "V3", at("20h"), at("21h")),
		// c3's own contacts: s1 inside c3's final window (day 21h to day 1
		// 6h), s2 only inside the one of the later positive (to day 3 6h).
		venueStay(c3, "v-c3-s1", "W1", at("1d", "1h"), at("1d", "3h")), venueStay(s1, "v-s1", "W1", at("1d", "1h"), at("1d", "2h")),
		venueStay(c3, "v-c3-s2", "W2", at("2d", "12h"), at("2d", "14h")), venueStay(s2, "v-s2", "W2", at("2d", "12h"), at("2d", "13h")),
		// Region 330102 is high from day -5, low from day 5.
		region("r-high", "330102", high, at("-5d"), 0), region("r-low", "330102", low, at("5d"), 0),
		of(a1, travel("t-a1", at("6d"), at("6d", "5h"), "330102", 0)), // in the lowered period: nothing
		of(a2, travel("t-a2", at("2d"), at("2d", "5h"), "330102", 0)), // high
		// n1: a companion exposure cleared by two negatives 24 h apart among
		// six within 26 h.
		of(n1, exposure("x-n1", scoring.ExposureCompanion, at("1h"))),
		of(n1, negPCR("n-1", at("2h"))), of(n1, negPCR("n-2", at("3h"))), of(n1, negPCR("n-3", at("4h"))),
		of(n1, negPCR("n-4", at("5h"))), of(n1, negPCR("n-5", at("20h"))), of(n1, negPCR("n-6", at("1d", "3h"))),
	}
	persons := []scoring.PersonKey{cs, c1, c2, c3, s1, s2, a1, a2, n1}
	ends := []scoring.Time{at("7d"), at("8d"), at("10d"), at("16d"), at("30d")}
	var want, wantX []string
	for seed := range uint64(12) {
		order := slices.Clone(inputs)
		if seed > 0 {
			rng := rand.New(rand.NewPCG(seed, 41))
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		r := newRunner(t, "domestic")
		for _, s := range order {
			r.step(s)
		}
		var got []string
		for _, end := range ends {
			r.advance(end)
			for _, k := range persons {
				u, _ := r.last(k)
				got = append(got, fmt.Sprintf("%s@%s: %s | %s", names[k], fmtTime(end), render(r.eng, k, end), renderUpdate(r.eng.Policy(), u)))
			}
		}
		for _, k := range persons {
			checkConsistent(t, r.eng.Policy(), r.of(k))
		}
		gotX := currentExposures(t, r.exposures, names)
		if seed == 0 {
			want, wantX = got, gotX
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("seed %d:\n got %s\nwant %s", seed, got[i], want[i])
			}
		}
		if !slices.Equal(gotX, wantX) {
			t.Errorf("seed %d: current exposures\n got %q\nwant %q", seed, gotX, wantX)
		}
	}
	// What the final inputs define: the close contacts c2 and c3 (by the
	// first window), s1 secondary through c3, a2's area exposure; no c1, no
	// s2, no a1.
	var who []string
	for _, x := range wantX {
		f := strings.Fields(x)
		who = append(who, f[0]+" "+f[1])
	}
	wantWho := []string{"1 c2<-case", "1 c3<-case", "3 s1<-c3", "4 a2<--"}
	if !slices.Equal(who, wantWho) {
		t.Errorf("current exposures %q, want %q", who, wantWho)
	}
	colour := func(k scoring.PersonKey, at scoring.Time) string {
		return strings.Fields(want[slices.Index(ends, at)*len(persons)+slices.Index(persons, k)])[1]
	}
	for _, c := range []struct {
		k    scoring.PersonKey
		at   scoring.Time
		want string
	}{{c1, at("7d"), "green"}, {c2, at("7d"), "red"}, {c3, at("7d"), "red"}, {s1, at("7d"), "yellow"}, {s2, at("7d"), "green"},
		{a1, at("7d"), "green"}, {a2, at("7d"), "yellow"}, {n1, at("7d"), "green"}} {
		if got := colour(c.k, c.at); got != c.want {
			t.Errorf("%s at %s: %s, want %s", names[c.k], fmtTime(c.at), got, c.want)
		}
	}
}

// Negatives: four or more inside one 24-hour window clear "two negatives
// at least 24 h apart" exactly when the second one 24 h after the first
// sampled after the anchor arrives, in every order.
func TestEngine_ManyNegativesClearExactly(t *testing.T) {
	negs := []step{negPCR("n1", at("2h")), negPCR("n2", at("3h")), negPCR("n3", at("4h")), negPCR("n4", at("5h")),
		negPCR("n5", at("6h")), negPCR("n6", at("1d", "2h", "-1s")), negPCR("n7", at("1d", "2h"))}
	for seed := range uint64(20) {
		order := slices.Clone(negs)
		rand.New(rand.NewPCG(seed, 3)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		r := newRunner(t, "domestic")
		r.step(exposure("x1", scoring.ExposureCompanion, at("1h")))
		// All but n7 first: n6 is 1 s short of 24 h after n1, so nothing clears.
		for _, s := range order {
			if s.ev.ID != "n7" {
				r.step(s)
			}
		}
		if d, _, _ := r.eng.Decide(alice, at("1d", "2h")); d.Level != 1 {
			t.Fatalf("seed %d: cleared without a pair 24 h apart: level %d", seed, d.Level)
		}
		r.step(negPCR("n7", at("1d", "2h")))
		if d, _, _ := r.eng.Decide(alice, at("1d", "2h")); d.Level != 0 {
			t.Errorf("seed %d: n1 and n7 are 24 h apart, still level %d", seed, d.Level)
		}
	}
}

// Versions of one exposure: a replacement moves the fact, a retraction takes
// it back (and the close mark it raised), and an older version arriving late
// changes nothing.
func TestEngine_ExposureVersions(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	caseKey := personKey(2).String()
	x := func(v uint64, at1, first, end scoring.Time, retracted bool) *scoring.Event {
		return &scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at1, First: first, End: end,
			Text: caseKey, ID: "exp-a", Source: "tracing", Version: v, Retracted: retracted}
	}
	apply := func(ev *scoring.Event, now scoring.Time) []scoring.Update {
		t.Helper()
		ups, err := eng.Apply(ev, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ups
	}
	ups := apply(x(5, at("2h"), at("1h"), at("2d"), false), at("2h"))
	if len(ups) != 1 || ups[0].Level != 2 || ups[0].Reasons[0].Until != at("2h", "14d") {
		t.Fatalf("first version: %+v", ups)
	}
	if m := eng.TakeMarks(); len(m) != 1 || m[0].From != at("1h") || m[0].To != at("2d") || m[0].ID != "exp-a" {
		t.Errorf("close mark %+v, want from the earliest exposure time to the report", m)
	}
	// An earlier exposure time and window: replaced, with a new mark.
	ups = apply(x(7, at("90m"), at("30m"), at("1d"), false), at("3h"))
	if len(ups) != 1 || ups[0].Reasons[0].Until != at("90m", "14d") {
		t.Errorf("replacement: %+v, want until day 14 1h30m", ups)
	}
	if m := eng.TakeMarks(); len(m) != 1 || m[0].From != at("30m") || m[0].To != at("1d") || m[0].Retracted {
		t.Errorf("replaced close mark %+v", m)
	}
	// Version 6 arrives late: nothing.
	if ups := apply(x(6, at("5h"), at("5h"), at("2d"), false), at("3h")); len(ups) != 0 || len(eng.TakeMarks()) != 0 {
		t.Errorf("a stale version changed something: %+v", ups)
	}
	// Retracted: green again, and the mark is taken back.
	ups = apply(&scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), ID: "exp-a", Version: 9, Retracted: true, Source: "tracing"}, at("4h"))
	if len(ups) != 1 || ups[0].Level != 0 {
		t.Errorf("retraction: %+v, want green", ups)
	}
	if m := eng.TakeMarks(); len(m) != 1 || !m[0].Retracted || m[0].ID != "exp-a" {
		t.Errorf("retraction marks %+v", m)
	}
	// The state record keeps the retraction: a restored engine ignores the
	// older versions too.
	rec, _ := eng.AppendState(nil, alice)
	fresh := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	if _, err := fresh.LoadState(rec); err != nil {
		t.Fatal(err)
	}
	if ups, err := fresh.Apply(x(8, at("5h"), at("5h"), at("2d"), false), at("5h"), nil); err != nil || len(ups) != 0 {
		t.Errorf("restored engine applied an older version: %+v, %v", ups, err)
	}
}

// A version 1 state record (no cold store) still loads: its exposure anchors
// hold as settled facts, and the decision is the same.
func TestState_LoadsVersion1(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("x1", scoring.ExposureClose, t0))
	r.step(negPCR("n1", at("1h")))
	rec, _ := r.eng.AppendState(nil, alice)
	// A version 1 record is the version 2 one without the cold store: here no
	// window negatives (1 byte), five empty settled anchors (5 × 5 bytes) and
	// one exposure entry (a count byte; id "x1" with its length, version,
	// three times, kind and flag).
	// Version 3 added the province stay (4 bytes) and the journey flag (1),
	// version 4 the last update's time (4).
	cold := 1 + 5*5 + 1 + (1 + len("x1") + 8 + 3*4 + 2) + 4 + 1 + 4
	v1 := append([]byte{rec[0], 1}, rec[2:len(rec)-cold]...)
	fresh := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	if _, err := fresh.LoadState(v1); err != nil {
		t.Fatalf("version 1 record: %v", err)
	}
	if a, b := render(r.eng, alice, at("1d")), render(fresh, alice, at("1d")); a != b {
		t.Errorf("version 1 record decides\n%s\nwant\n%s", b, a)
	}
	bad := append([]byte{rec[0], 5}, rec[2:]...)
	if _, err := fresh.LoadState(bad); err == nil || !strings.Contains(err.Error(), "version 5") {
		t.Errorf("version 5: %v, want a refusal naming the version", err)
	}
}
