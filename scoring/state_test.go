package scoring_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"healthcode/scoring"
)

// stateScenario builds an engine holding persons with every kind of fact,
// including pending timers and an active override.
func stateScenario(t testing.TB) (*runner, []scoring.PersonKey) {
	r := newRunner(t, "domestic")
	r.step(country("r-deu", "DEU", high, at("-10d"), 0))
	r.step(region("r-hz", "330102", high, at("-10d"), 0))
	var keys []scoring.PersonKey
	add := func(n int, steps ...step) {
		k := personKey(300 + n)
		keys = append(keys, k)
		for _, s := range steps {
			s.ev.Person = k
			r.step(s)
		}
	}
	add(0, posPCR("p1", t0), negPCR("n1", at("1d")), negPCR("n2", at("2d")), negPCR("n3", at("2d", "1h")))
	add(1, exposure("x1", scoring.ExposureClose, t0), negPCR("n1", at("12d")))
	add(2, arrival("f1", t0, "DEU"), arrival("f2", at("1h"), "USA"))
	add(3, travel("t1", at("-2d"), at("-1d"), "330102", 0), exposure("c1", scoring.ExposureCompanion, at("1d")))
	add(4, antigen("a1", t0, pos), override("o1", at("1h"), at("3d"), 0, "appeal upheld: sample mix-up"))
	add(5, declaration("d1", t0, 0, 366), evStep(scoring.Event{Kind: scoring.KindVaccination, Dose: 3, At: at("1h"), ID: "v1"}))
	add(6, exposure("s1", scoring.ExposureSecondary, at("11d")), exposure("m1", scoring.ExposureAreaMedium, at("11d")))
	return r, keys
}

func TestState_RoundTrip(t *testing.T) {
	r, keys := stateScenario(t)
	now := r.clock
	var recs [][]byte
	for _, k := range keys {
		rec, ok := r.eng.AppendState(nil, k)
		if !ok {
			t.Fatalf("AppendState %s: not held", k)
		}
		recs = append(recs, rec)
	}
	if _, ok := r.eng.AppendState(nil, personKey(999)); ok {
		t.Error("AppendState of a person never seen succeeded")
	}

	fresh := newRunner(t, "domestic")
	fresh.clock = now
	// Designations are reference data: the scoring stage re-reads them.
	fresh.step(country("r-deu", "DEU", high, at("-10d"), 0))
	fresh.step(region("r-hz", "330102", high, at("-10d"), 0))
	for i, rec := range recs {
		k, err := fresh.eng.LoadState(rec)
		if err != nil || k != keys[i] {
			t.Fatalf("LoadState %d: %s, %v", i, k, err)
		}
	}
	if fresh.eng.Len() != len(keys) || fresh.eng.NextTimer() != r.eng.NextTimer() {
		t.Errorf("restored %d persons, next timer %s; want %d and %s", fresh.eng.Len(), fmtTime(fresh.eng.NextTimer()),
			len(keys), fmtTime(r.eng.NextTimer()))
	}
	// Restoring issues nothing: the restored engine knows what was issued.
	if len(fresh.updates) != 0 {
		t.Errorf("restore issued updates: %+v", fresh.updates)
	}
	for i, k := range keys {
		if a, b := render(r.eng, k, now), render(fresh.eng, k, now); a != b {
			t.Errorf("person %d decides differently after restore:\n%s\n%s", i, a, b)
		}
		rec, _ := fresh.eng.AppendState(nil, k)
		if !bytes.Equal(rec, recs[i]) {
			t.Errorf("person %d: the restored state writes a different record", i)
		}
	}
	// Both engines go on identically: same timers, same updates, versions
	// continuing from the restored ones.
	n0 := len(r.updates)
	for _, end := range []scoring.Time{at("14d"), at("21d"), at("30d")} {
		r.advance(end)
		fresh.advance(end)
	}
	for _, s := range []step{exposure("x9", scoring.ExposureClose, at("31d")), posPCR("p9", at("31d"))} {
		for i, k := range keys {
			s.ev.Person = k
			s.ev.ID = fmt.Sprint(s.ev.ID, i)
			r.step(s)
			fresh.step(s)
		}
	}
	after := r.updates[n0:]
	if len(after) < len(keys) || len(fresh.updates) != len(after) {
		t.Fatalf("after restore: %d updates, the original engine %d", len(fresh.updates), len(after))
	}
	for i, a := range after {
		b := fresh.updates[i]
		if a.Person != b.Person || a.Version != b.Version || a.Previous != b.Previous || a.Effective != b.Effective ||
			renderUpdate(r.eng.Policy(), a) != renderUpdate(fresh.eng.Policy(), b) {
			t.Errorf("update %d: original %+v, restored %+v", i, a, b)
		}
	}
}

// A restored person whose state was already saved before its first update
// keeps Previous -1; one restored after updates continues its versions.
func TestState_VersionsContinue(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("c1", scoring.ExposureCompanion, t0))
	r.step(exposure("x1", scoring.ExposureClose, at("1h")))
	rec, _ := r.eng.AppendState(nil, alice)
	fresh := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	if _, err := fresh.LoadState(rec); err != nil {
		t.Fatal(err)
	}
	ups, err := fresh.Apply(&scoring.Event{Person: alice, Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: pos, At: at("2h"), ID: "p1"}, at("2h"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Version != 3 || ups[0].Previous != 2 {
		t.Errorf("update after restore %+v: want version 3 from red", ups)
	}
}

func TestState_LoadReplacesPerson(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(exposure("c1", scoring.ExposureCompanion, t0))
	old, _ := r.eng.AppendState(nil, alice)
	r.step(posPCR("p1", at("1h")))
	if _, err := r.eng.LoadState(old); err != nil {
		t.Fatal(err)
	}
	if r.eng.Len() != 1 {
		t.Errorf("Len %d after reloading a person", r.eng.Len())
	}
	if got := render(r.eng, alice, at("1h")); !strings.HasPrefix(got, "yellow") {
		t.Errorf("after loading the older record: %s, want yellow", got)
	}
}

func TestState_BadRecords(t *testing.T) {
	r, keys := stateScenario(t)
	good, _ := r.eng.AppendState(nil, keys[4])
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	bad := map[string][]byte{
		"empty":          nil,
		"header only":    good[:2],
		"wrong magic":    append([]byte{'X'}, good[1:]...),
		"wrong version":  append([]byte{good[0], 99}, good[2:]...),
		"trailing bytes": append(bytes.Clone(good), 0),
	}
	for n := 3; n < len(good); n += 7 {
		bad[fmt.Sprintf("truncated at %d", n)] = good[:n]
	}
	bad["truncated by one"] = good[:len(good)-1]
	// A string length running past the end: the first anchor's evidence.
	huge := bytes.Clone(good)
	copy(huge[2+16+4:], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	bad["string length too long"] = huge
	for name, rec := range bad {
		if _, err := eng.LoadState(rec); !errors.Is(err, scoring.ErrBadState) {
			t.Errorf("%s: err %v, want ErrBadState", name, err)
		}
	}
	if eng.Len() != 0 {
		t.Errorf("bad records added %d persons", eng.Len())
	}
}

// Compaction of the string arena keeps every evidence string and reason text.
func TestState_ArenaCompaction(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{CompactAt: 4 << 10})
	long := strings.Repeat("x", 40)
	var ups []scoring.Update
	apply := func(ev scoring.Event, now scoring.Time) {
		t.Helper()
		var err error
		if ups, err = eng.Apply(&ev, now, ups); err != nil {
			t.Fatal(err)
		}
	}
	const persons = 50
	note := func(i int) string { return fmt.Sprintf("officer note %d %s", i, long) }
	// Each person gets a run of ever later companion exposures: each replaces
	// the last, leaving its id behind as garbage in the arena.
	for round := range 40 {
		for i := range persons {
			k := personKey(1000 + i)
			when := at(fmt.Sprintf("%dh", round))
			apply(scoring.Event{Person: k, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureCompanion), At: when,
				ID: fmt.Sprintf("companion-%d-%d-%s", i, round, long)}, when)
			if round == 0 {
				apply(scoring.Event{Person: k, Kind: scoring.KindOverride, Level: 2, At: when, End: at("400h"),
					ID: fmt.Sprintf("override-%d", i), Text: note(i)}, when)
				apply(scoring.Event{Person: k, Kind: scoring.KindArrival, Country: "USA", At: when, ID: fmt.Sprintf("flight-%d", i)}, when)
			}
		}
	}
	now := at("39h")
	for i := range persons {
		k := personKey(1000 + i)
		d, _, _ := eng.Decide(k, now)
		if len(d.Top) != 1 || d.Top[0].Rule != -1 || eng.Evidence(d.Top[0].Ref) != fmt.Sprintf("override-%d", i) {
			t.Fatalf("person %d: override lost after compaction: %s", i, render(eng, k, now))
		}
		var comp string
		for _, a := range d.All {
			if a.Rule >= 0 && eng.Policy().Rules[a.Rule].ID == "companion" {
				comp = eng.Evidence(a.Ref)
			}
		}
		if want := fmt.Sprintf("companion-%d-39-%s", i, long); comp != want {
			t.Errorf("person %d: companion evidence %q, want %q", i, comp, want)
		}
		// The state record carries the strings too.
		rec, _ := eng.AppendState(nil, k)
		for _, s := range []string{comp, note(i), fmt.Sprintf("override-%d", i), fmt.Sprintf("flight-%d", i)} {
			if !bytes.Contains(rec, []byte(s)) {
				t.Errorf("person %d: state record lacks %q", i, s)
			}
		}
	}
	// Updates issued after compaction show the override's text and evidence:
	// a secondary exposure brings the review forward, which re-issues.
	ups = ups[:0]
	for i := range persons {
		apply(scoring.Event{Person: personKey(1000 + i), Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureSecondary),
			At: at("40h"), ID: fmt.Sprint("secondary-", i)}, at("40h"))
	}
	if len(ups) != persons {
		t.Fatalf("%d updates, want %d", len(ups), persons)
	}
	for i, u := range ups {
		if len(u.Reasons) != 1 || u.Reasons[0].Text != note(i) || fmt.Sprint(u.Reasons[0].Evidence) != fmt.Sprintf("[override-%d]", i) {
			t.Errorf("person %d: reasons %+v after compaction", i, u.Reasons)
		}
	}
}

func FuzzLoadState(f *testing.F) {
	r, keys := stateScenario(f)
	for _, k := range keys {
		rec, _ := r.eng.AppendState(nil, k)
		f.Add(rec)
	}
	f.Add([]byte{'H', 1})
	f.Add([]byte("H\x01 sixteen bytes key"))
	p := loadPolicy(f, "domestic")
	f.Fuzz(func(t *testing.T, rec []byte) {
		eng := scoring.NewEngine(p, scoring.EngineOptions{CompactAt: 1 << 10})
		k, err := eng.LoadState(rec)
		if err != nil {
			if !errors.Is(err, scoring.ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			if eng.Len() != 0 {
				t.Fatal("a refused record added a person")
			}
			return
		}
		// What was accepted writes a record that reads back to itself.
		again, ok := eng.AppendState(nil, k)
		if !ok {
			t.Fatal("loaded person not held")
		}
		eng2 := scoring.NewEngine(p, scoring.EngineOptions{})
		if _, err := eng2.LoadState(again); err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if again2, _ := eng2.AppendState(nil, k); !bytes.Equal(again, again2) {
			t.Fatal("record changes on a second round trip")
		}
		// And the engine can decide and move on without panicking or
		// issuing a level outside the policy.
		now := t0
		if d, _, _ := eng.Decide(k, now); int(d.Level) >= len(p.Colours) {
			t.Fatalf("decision level %d", d.Level)
		}
		ups := eng.Advance(at("400d"), nil)
		if k != (scoring.PersonKey{}) {
			ups, _ = eng.Apply(&scoring.Event{Person: k, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureCompanion), At: at("401d"), ID: "c"}, at("401d"), ups)
		}
		for _, u := range ups {
			if int(u.Level) >= len(p.Colours) {
				t.Fatalf("update level %d", u.Level)
			}
		}
	})
}
