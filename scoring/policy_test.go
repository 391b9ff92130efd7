package scoring_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
)

// domesticMap returns the shipped domestic policy as generic JSON, to mutate.
func domesticMap(t *testing.T) map[string]any {
	t.Helper()
	b, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// rule returns rule i of a policy map.
func rule(m map[string]any, i int) map[string]any { return m["rules"].([]any)[i].(map[string]any) }

func TestParsePolicy_Refuses(t *testing.T) {
	f := func(name string, mutate func(m map[string]any), wantErr string) {
		t.Helper()
		m := domesticMap(t)
		mutate(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		p, err := scoring.ParsePolicy(b)
		if err == nil {
			t.Errorf("%s: accepted (%s)", name, p.Stamp())
			return
		}
		if !errors.Is(err, scoring.ErrBadPolicy) || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %q, want ErrBadPolicy mentioning %q", name, err, wantErr)
		}
	}
	f("unknown top-level field", func(m map[string]any) { m["colour"] = "red" }, `unknown field "colour"`)
	f("unknown params field", func(m map[string]any) { m["params"].(map[string]any)["fever"] = 38 }, `unknown field "fever"`)
	f("unknown rule field", func(m map[string]any) { rule(m, 0)["clears_when"] = "x" }, `unknown field "clears_when"`)
	f("unknown colour", func(m map[string]any) { rule(m, 1)["colour"] = "purple" }, `rule 1 ("suspected"): colour "purple" is not one of`)
	f("unknown fact", func(m map[string]any) { rule(m, 0)["fact"] = "fever" }, `unknown fact "fever"`)
	f("lowest colour", func(m map[string]any) { rule(m, 5)["colour"] = "green" }, `rule 5 ("secondary-contact"): colour "green" is the lowest level`)
	f("duplicate rule id", func(m map[string]any) { rule(m, 3)["id"] = "confirmed" }, `rule 3: id "confirmed" repeated or reserved`)
	f("reserved rule id", func(m map[string]any) { rule(m, 3)["id"] = "override" }, `id "override" repeated or reserved`)
	f("malformed rule id", func(m map[string]any) { rule(m, 3)["id"] = "Arrival High" }, "id: want lowercase")
	f("time_or_tests without tests", func(m map[string]any) { delete(rule(m, 6), "tests") }, `clear "time_or_tests" needs tests.negative_pcr of 1 or 2`)
	f("three negatives", func(m map[string]any) { rule(m, 6)["tests"] = map[string]any{"negative_pcr": 3} }, "needs tests.negative_pcr of 1 or 2")
	f("negative tests.after", func(m map[string]any) { rule(m, 2)["tests"] = map[string]any{"negative_pcr": 1, "after": "-1h"} }, "tests.after is negative")
	f("tests on a time rule", func(m map[string]any) { rule(m, 3)["tests"] = map[string]any{"negative_pcr": 1} }, `tests are set but clear "time" ignores them`)
	f("time without for", func(m map[string]any) { delete(rule(m, 5), "for") }, `clear "time" needs a positive "for"`)
	f("for on a tests rule", func(m map[string]any) { rule(m, 1)["for"] = "14d" }, `"for" is set but clear "tests" ignores time`)
	f("from equal to for", func(m map[string]any) { rule(m, 4)["from"] = "21d" }, "from 21d must be before for 21d")
	f("from after for", func(m map[string]any) { rule(m, 4)["from"] = "22d" }, "must be before for")
	f("unknown clear", func(m map[string]any) { rule(m, 3)["clear"] = "sometimes" }, `clear "sometimes": want time, tests`)
	f("missing text_en", func(m map[string]any) { delete(rule(m, 3), "text_en") }, "text_en and text_zh are required")
	f("missing text_zh", func(m map[string]any) { delete(rule(m, 3), "text_zh") }, "text_en and text_zh are required")
	f("missing clears_en", func(m map[string]any) { delete(rule(m, 0), "clears_en") }, "clears_en and clears_zh are required")
	f("missing clears_zh", func(m map[string]any) { delete(rule(m, 7), "clears_zh") }, "clears_en and clears_zh are required")
	f("bad duration", func(m map[string]any) { rule(m, 0)["for"] = "14 days" }, `duration "14 days": bad day count`)
	f("bad duration unit", func(m map[string]any) { rule(m, 0)["for"] = "2w" }, `unknown unit "w"`)
	f("negative day count", func(m map[string]any) { rule(m, 0)["for"] = "-14d" }, "bad day count")
	f("empty duration", func(m map[string]any) { m["params"].(map[string]any)["negative_apart"] = "" }, "duration")
	f("duration as a number", func(m map[string]any) { rule(m, 0)["for"] = 14 }, `duration must be a string like "14d"`)
	f("negative param duration", func(m map[string]any) { m["params"].(map[string]any)["negative_apart"] = "-1h" }, "durations must not be negative")
	f("fever out of range", func(m map[string]any) { m["params"].(map[string]any)["fever_celsius"] = 45 }, "fever_celsius 45.0")
	f("close_rows out of range", func(m map[string]any) { m["contacts"].(map[string]any)["close_rows"] = -1 }, "close_rows -1")
	f("h3 resolution out of range", func(m map[string]any) { m["contacts"].(map[string]any)["companion_h3_res"] = 16 }, "companion_h3_res 16")
	f("lookback shorter than the infectious window", func(m map[string]any) { m["contacts"].(map[string]any)["lookback"] = "1d" }, "lookback 1d shorter than infectious_before 2d")
	f("bad name", func(m map[string]any) { m["name"] = "Domestic" }, `name "Domestic"`)
	f("version 0", func(m map[string]any) { m["version"] = 0 }, "version 0")
	f("one colour", func(m map[string]any) { m["colours"] = []any{"green"} }, "colours: want 2 to 8, have 1")
	f("nine colours", func(m map[string]any) {
		m["colours"] = []any{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
	}, "colours: want 2 to 8, have 9")
	f("repeated colour", func(m map[string]any) { m["colours"] = []any{"green", "red", "red"} }, `colour "red": empty, malformed or repeated`)
	f("no rules", func(m map[string]any) { m["rules"] = []any{} }, "no rules")
}

func TestParsePolicy_RefusesBadJSON(t *testing.T) {
	good, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":           nil,
		"not an object":   []byte(`["domestic"]`),
		"truncated":       good[:len(good)/2],
		"trailing object": append(append([]byte{}, good...), good...),
		"trailing text":   append(append([]byte{}, good...), "\nrules = []\n"...),
	} {
		if _, err := scoring.ParsePolicy(b); !errors.Is(err, scoring.ErrBadPolicy) {
			t.Errorf("%s: err %v, want ErrBadPolicy", name, err)
		}
	}
	if _, err := scoring.ParsePolicy(append(append([]byte{}, good...), " \n\t"...)); err != nil {
		t.Errorf("trailing white space refused: %v", err)
	}
}

func TestParsePolicy_Defaults(t *testing.T) {
	m := domesticMap(t)
	delete(m, "params")
	delete(m, "contacts")
	b, _ := json.Marshal(m)
	p, err := scoring.ParsePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	pa, c := p.Params, p.Contacts
	if pa.FeverCelsius != 37.3 || pa.NegativeApart.Std() != 24*time.Hour || pa.CheckinDefaultStay.Std() != time.Hour ||
		pa.TravelDefaultStay.Std() != 24*time.Hour || pa.RegionMinStay.Std() != 4*time.Hour {
		t.Errorf("params defaults %+v", pa)
	}
	if c.InfectiousBefore.Std() != 48*time.Hour || c.CloseOverlap.Std() != 15*time.Minute || c.CloseRows != 3 ||
		c.CompanionOverlap.Std() != 10*time.Minute || c.CompanionH3Res != 8 || c.Lookback.Std() != 16*24*time.Hour {
		t.Errorf("contacts defaults %+v", c)
	}
}

// Every shipped policy survives a JSON round trip unchanged, and its rules
// have the colours and levels docs/policies.md gives them.
func TestParsePolicy_ShippedRoundTrip(t *testing.T) {
	for _, name := range policies.Names() {
		p := loadPolicy(t, name)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := scoring.ParsePolicy(b)
		if err != nil {
			t.Fatalf("%s: marshalled policy refused: %v", name, err)
		}
		b2, _ := json.Marshal(q)
		if string(b) != string(b2) {
			t.Errorf("%s: round trip changed the policy", name)
		}
		for i := range q.Rules {
			r := &q.Rules[i]
			if lvl, _ := q.ColourLevel(r.Colour); lvl != r.Level() || lvl == 0 {
				t.Errorf("%s/%s: level %d for colour %s", name, r.ID, r.Level(), r.Colour)
			}
		}
	}
	want := map[string]string{
		"confirmed": "red", "suspected": "red", "close-contact": "red", "arrival-high-risk": "red",
		"post-quarantine": "yellow", "secondary-contact": "yellow", "companion": "yellow", "risk-area": "yellow",
		"risk-area-medium": "yellow", "arrival-medium-risk": "yellow",
	}
	p := loadPolicy(t, "domestic")
	if len(p.Rules) != len(want) {
		t.Errorf("domestic has %d rules, want %d", len(p.Rules), len(want))
	}
	for _, r := range p.Rules {
		if want[r.ID] != r.Colour {
			t.Errorf("domestic %s: colour %s, want %s", r.ID, r.Colour, want[r.ID])
		}
	}
}

func TestParseDuration(t *testing.T) {
	f := func(s string, want time.Duration) {
		t.Helper()
		d, err := scoring.ParseDuration(s)
		if err != nil || d.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, d.Std(), err, want)
		}
	}
	f("14d", 14*24*time.Hour)
	f("1d12h", 36*time.Hour)
	f("15m", 15*time.Minute)
	f("24h", 24*time.Hour)
	f("36h", 36*time.Hour)
	f("1d12h30m", 36*time.Hour+30*time.Minute)
	f("0d", 0)
	f("0s", 0)
	f(" 7d ", 7*24*time.Hour)
	f("90s", 90*time.Second)
	f("-1h", -time.Hour) // accepted here; policies refuse negative durations
	bad := func(s string) {
		t.Helper()
		if d, err := scoring.ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, d)
		}
	}
	for _, s := range []string{"", " ", "d", "x", "14", "-1d", "1.5d", "14days", "1h2d", "2d3d", "2w", "1d 2h", "99999999999d"} {
		bad(s)
	}
}

func TestDuration_StringRoundTrip(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := scoring.Duration(d).String(); got != want {
			t.Errorf("String(%v) = %q, want %q", d, got, want)
		}
	}
	f(14*24*time.Hour, "14d")
	f(24*time.Hour, "1d")
	f(36*time.Hour, "36h0m0s")
	f(15*time.Minute, "15m0s")
	f(0, "0s")
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		d := scoring.Duration(time.Duration(rng.Int64N(int64(400*24*time.Hour))) / time.Second * time.Second)
		if rng.IntN(4) == 0 {
			d = d / scoring.Duration(24*time.Hour) * scoring.Duration(24*time.Hour)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back scoring.Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("%v: JSON %s reads back as %v, %v", d.Std(), b, back.Std(), err)
		}
	}
}

// The stay rules the engine and the tracer share: a stay without left_at
// lasts the default for its kind, and a travel stay counts for area risk only
// from RegionMinStay on (POLICY: the itinerary-card rule).
func TestParams_StayRules(t *testing.T) {
	p := loadPolicy(t, "domestic").Params
	start := at("1d")
	f := func(travel bool, left, wantEnd scoring.Time, wantCounts bool) {
		t.Helper()
		end := p.StayEnd(travel, start, left)
		if end != wantEnd {
			t.Errorf("StayEnd(travel=%v, left=%s) = %s, want %s", travel, fmtTime(left), fmtTime(end), fmtTime(wantEnd))
		}
		if got := p.CountsForArea(travel, start, end); got != wantCounts {
			t.Errorf("CountsForArea(travel=%v, %s..%s) = %v, want %v", travel, fmtTime(start), fmtTime(end), got, wantCounts)
		}
	}
	f(false, 0, at("1d", "1h"), true)                            // check-in: 1 hour, always counts
	f(false, at("1d", "10m"), at("1d", "10m"), true)             // a short check-in counts
	f(true, 0, at("2d"), true)                                   // travel: 24 hours
	f(true, at("1d", "4h"), at("1d", "4h"), true)                // exactly 4 hours counts
	f(true, at("1d", "4h", "-1s"), at("1d", "4h", "-1s"), false) // 3h59m59s does not
}
