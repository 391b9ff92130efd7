package guard

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
)

const testPolicy = `{"name": "t", "version": 1, "colours": ["green", "yellow", "red"],
 "rules": [{"id": "suspected", "colour": "red", "fact": "suspect", "clear": "tests", "tests": {"negative_pcr": 1},
            "text_en": "x", "text_zh": "x", "clears_en": "x", "clears_zh": "x"}],
 "overrides": {
  "colours": {"green": "any", "yellow": "reason_code", "red": "reason_code"},
  "reason_codes": ["medical-isolation", "medical-observation"],
  "max_until": "14d",
  "rate_limit": {"max": 60, "window": "1h"},
  "alerts": [
   {"id": "officer-red", "by": "officer", "colour": "red", "window": "1h", "over": 20},
   {"id": "pair", "by": "pair", "window": "1h", "over": 40},
   {"id": "colour", "by": "colour", "window": "1h", "over": 50},
   {"id": "region-red", "by": "region", "colour": "red", "window": "24h", "over": 100}
  ]}}`

func policy(t testing.TB, js string) *scoring.Policy {
	t.Helper()
	p, err := scoring.ParsePolicy([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = scoring.MustTime("2020-03-10T09:00:00+08:00")

func key(s string) scoring.PersonKey {
	var k scoring.PersonKey
	copy(k[:], s)
	return k
}

// ovr returns override i of officer off: to red with a reason code, at t0+at.
func ovr(off string, i int, at time.Duration) scoring.Override {
	return scoring.Override{ID: fmt.Sprintf("%s-%04d", off, i), Source: "desk", Person: key(fmt.Sprintf("p%d", i)),
		Level: 2, At: t0.Add(at), Until: t0.Add(at + 7*24*time.Hour), Reason: "ordered", ReasonCode: "medical-isolation",
		Region: "410105", Officer: key(off), Approver: key(off + "-approver")}
}

// run adds every override, advances past them all and returns the output.
func run(g *Guard, os ...scoring.Override) Output {
	var out Output
	var last scoring.Time
	for _, o := range os {
		g.Add(o)
		last = max(last, o.At)
	}
	g.Advance(last.Add(time.Hour), &out)
	return out
}

func decisions(out Output) map[string]string {
	m := map[string]string{}
	for _, e := range out.Entries {
		m[e.Override.ID] = e.Decision
	}
	return m
}

func count(out Output, decision string) int {
	n := 0
	for _, e := range out.Entries {
		if e.Decision == decision {
			n++
		}
	}
	return n
}

func TestGuard_OfficerAlertAtThreshold(t *testing.T) {
	p := policy(t, testPolicy)
	// 20 overrides to red in an hour: no alert; the 21st raises it and is held.
	var os []scoring.Override
	for i := range 20 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Minute))
	}
	out := run(New(p, Options{}), os...)
	if len(out.Alerts) != 0 || count(out, Accepted) != 20 || len(out.Forward) != 20 {
		t.Fatalf("20 overrides: %d alerts, %d accepted, %d forwarded; want 0, 20, 20", len(out.Alerts), count(out, Accepted), len(out.Forward))
	}
	os = append(os, ovr("a", 20, 20*time.Minute))
	out = run(New(p, Options{}), os...)
	if len(out.Alerts) != 1 || out.Alerts[0].Rule.ID != "officer-red" || out.Alerts[0].Count != 21 || out.Alerts[0].EventID != "a-0020" {
		t.Fatalf("21 overrides: alerts %+v; want one officer-red with count 21 raised by a-0020", out.Alerts)
	}
	if d := decisions(out); d["a-0020"] != Held || count(out, Accepted) != 20 {
		t.Fatalf("21st override %s, %d accepted; want held and 20", d["a-0020"], count(out, Accepted))
	}
}

func TestGuard_WindowBoundary(t *testing.T) {
	p := policy(t, testPolicy)
	// The window is (t-1h, t]: an override exactly an hour before the 21st
	// is outside it, one a second later is inside.
	f := func(first time.Duration, wantAlerts int) {
		t.Helper()
		os := []scoring.Override{ovr("a", 0, first)}
		for i := 1; i <= 20; i++ {
			os = append(os, ovr("a", i, time.Hour+time.Duration(i)*time.Second-20*time.Second))
		}
		// The 21st is at exactly 1h.
		out := run(New(p, Options{}), os...)
		if len(out.Alerts) != wantAlerts {
			t.Errorf("first at %s: %d alerts, want %d", first, len(out.Alerts), wantAlerts)
		}
	}
	f(0, 0)
	f(time.Second, 1)
}

func TestGuard_AlertStandsOneWindowAfterLastExcess(t *testing.T) {
	p := policy(t, testPolicy)
	var os []scoring.Override
	for i := range 21 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Second))
	}
	last := 20 * time.Second // the 21st, which passed the threshold
	os = append(os, ovr("a", 100, last+time.Hour-time.Second), ovr("a", 101, last+time.Hour))
	out := run(New(p, Options{}), os...)
	d := decisions(out)
	if d["a-0100"] != Held || d["a-0101"] != Accepted || len(out.Alerts) != 1 {
		t.Fatalf("just inside the standing hour %s, at its end %s, %d alerts; want held, accepted, 1", d["a-0100"], d["a-0101"], len(out.Alerts))
	}
}

func TestGuard_NewAlertAfterQuietWindow(t *testing.T) {
	p := policy(t, testPolicy)
	var os []scoring.Override
	for i := range 21 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Second))
	}
	for i := range 21 {
		os = append(os, ovr("a", 200+i, 3*time.Hour+time.Duration(i)*time.Second))
	}
	out := run(New(p, Options{}), os...)
	if len(out.Alerts) != 2 {
		t.Fatalf("two bursts three hours apart: %d alerts, want 2", len(out.Alerts))
	}
}

func TestGuard_RateLimitBoundary(t *testing.T) {
	p := policy(t, testPolicy)
	p.Overrides.Alerts = nil
	var os []scoring.Override
	for i := range 61 {
		o := ovr("a", i, time.Duration(i)*time.Second)
		o.Level, o.ReasonCode = 0, ""
		os = append(os, o)
	}
	out := run(New(p, Options{}), os...)
	d := decisions(out)
	if count(out, Accepted) != 60 || d["a-0060"] != Refused {
		t.Fatalf("61 in an hour: %d accepted, 61st %s; want 60 and refused", count(out, Accepted), d["a-0060"])
	}
	if !strings.Contains(out.Entries[60].Why, "60 overrides within 1h") {
		t.Errorf("why = %q", out.Entries[60].Why)
	}
	// An hour after the first, the window has room again.
	late := ovr("a", 99, time.Hour)
	late.Level, late.ReasonCode = 0, ""
	out = run(New(p, Options{}), append(os[:60:60], late)...)
	if d := decisions(out); d["a-0099"] != Accepted {
		t.Fatalf("61st an hour after the first: %s, want accepted", d["a-0099"])
	}
}

func TestGuard_Rules(t *testing.T) {
	p := policy(t, strings.Replace(testPolicy, `"yellow": "reason_code"`, `"yellow": "never"`, 1))
	f := func(name string, edit func(*scoring.Override), want, why string) {
		t.Helper()
		o := ovr("a", 0, 0)
		edit(&o)
		out := run(New(p, Options{}), o)
		if len(out.Entries) != 1 || out.Entries[0].Decision != want || !strings.Contains(out.Entries[0].Why, why) {
			t.Errorf("%s: %+v; want %s (%q)", name, out.Entries, want, why)
		}
		if want == Accepted && (len(out.Forward) != 1 || out.Forward[0].ID != o.ID) {
			t.Errorf("%s: forwarded %+v", name, out.Forward)
		}
		if want != Accepted && len(out.Forward) != 0 {
			t.Errorf("%s: forwarded a refused override", name)
		}
	}
	f("red with code", func(o *scoring.Override) {}, Accepted, "")
	f("red without code", func(o *scoring.Override) { o.ReasonCode = "" }, Refused, "only with a reason code")
	f("yellow never", func(o *scoring.Override) { o.Level = 1 }, Refused, "does not let an override set the colour yellow")
	f("green without code", func(o *scoring.Override) { o.Level, o.ReasonCode = 0, "" }, Accepted, "")
	f("unknown code", func(o *scoring.Override) { o.ReasonCode = "protest" }, Refused, "not one of the policy's reason codes")
	f("until at max", func(o *scoring.Override) { o.Until = o.At.Add(14 * 24 * time.Hour) }, Accepted, "")
	f("until past max", func(o *scoring.Override) { o.Until = o.At.Add(14*24*time.Hour + time.Second) }, Refused, "more than 14d after occurred_at")
}

func TestGuard_OtherScopes(t *testing.T) {
	p := policy(t, testPolicy)
	p.Overrides.RateLimit = nil
	// pair: 41 overrides (to green, so officer-red stays quiet) by one pair.
	var os []scoring.Override
	for i := range 41 {
		o := ovr("a", i, time.Duration(i)*time.Second)
		o.Level, o.ReasonCode = 0, ""
		os = append(os, o)
	}
	out := run(New(p, Options{}), os[:40]...)
	if len(out.Alerts) != 0 {
		t.Fatalf("40 by a pair: alerts %+v", out.Alerts)
	}
	out = run(New(p, Options{}), os...)
	if len(out.Alerts) != 1 || out.Alerts[0].Rule.ID != "pair" || out.Alerts[0].Approver != key("a-approver") {
		t.Fatalf("41 by a pair: alerts %+v", out.Alerts)
	}
	// The same officer with another approver is not held by the pair alert.
	other := ovr("a", 500, 50*time.Second)
	other.Level, other.ReasonCode, other.Approver = 0, "", key("b")
	out = run(New(p, Options{}), append(os, other)...)
	if d := decisions(out); d["a-0500"] != Accepted || d["a-0040"] != Held {
		t.Fatalf("other approver %s, 41st %s; want accepted, held", d["a-0500"], d["a-0040"])
	}

	// colour: 51 overrides to yellow across 51 officers in an hour.
	os = os[:0]
	for i := range 51 {
		o := ovr(fmt.Sprintf("o%d", i), i, time.Duration(i)*time.Second)
		o.Level, o.ReasonCode = 1, "medical-observation"
		os = append(os, o)
	}
	if out := run(New(p, Options{}), os[:50]...); len(out.Alerts) != 0 {
		t.Fatalf("50 to yellow: alerts %+v", out.Alerts)
	}
	out = run(New(p, Options{}), os...)
	if len(out.Alerts) != 1 || out.Alerts[0].Rule.ID != "colour" || out.Alerts[0].Level != 1 {
		t.Fatalf("51 to yellow: alerts %+v", out.Alerts)
	}

	// region: 101 to red in a day across officers (under every other threshold).
	os = os[:0]
	for i := range 101 {
		os = append(os, ovr(fmt.Sprintf("o%d", i), i, time.Duration(i)*10*time.Minute))
	}
	if out := run(New(p, Options{}), os[:100]...); len(out.Alerts) != 0 {
		t.Fatalf("100 to red in a region: alerts %+v", out.Alerts)
	}
	out = run(New(p, Options{}), os...)
	if len(out.Alerts) != 1 || out.Alerts[0].Rule.ID != "region-red" || out.Alerts[0].Region != "410105" {
		t.Fatalf("101 to red in a region: alerts %+v", out.Alerts)
	}
	// Without a region, none counts.
	for i := range os {
		os[i].Region = ""
	}
	if out := run(New(p, Options{}), os...); len(out.Alerts) != 0 {
		t.Fatalf("no region: alerts %+v", out.Alerts)
	}
}

func TestGuard_Confirmation(t *testing.T) {
	p := policy(t, testPolicy)
	g := New(p, Options{})
	var os []scoring.Override
	for i := range 21 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Second))
	}
	out := run(g, os...)
	held := os[20]
	if decisions(out)[held.ID] != Held || g.HeldCount() != 1 {
		t.Fatalf("21st not held: %v", decisions(out))
	}
	conf := func(id string, edit func(*scoring.Override)) scoring.Override {
		c := held
		c.ID, c.Confirms, c.Approver, c.At = id, held.ID, key("second"), held.At.Add(time.Hour)
		edit(&c)
		return c
	}
	f := func(c scoring.Override, why string) {
		t.Helper()
		out := run(g, c)
		if len(out.Entries) != 1 || out.Entries[0].Decision != Refused || !strings.Contains(out.Entries[0].Why, why) || len(out.Forward) != 0 {
			t.Errorf("%s: %+v, want refused: %s", c.ID, out.Entries, why)
		}
	}
	f(conf("c1", func(c *scoring.Override) { c.Approver = held.Approver }), "second approver")
	f(conf("c2", func(c *scoring.Override) { c.Approver = held.Officer }), "second approver")
	f(conf("c3", func(c *scoring.Override) { c.Officer = key("z") }), "from the officer of the held override")
	f(conf("c4", func(c *scoring.Override) { c.Level = 0 }), "does not match")
	f(conf("c5", func(c *scoring.Override) { c.Confirms = "a-0001" }), "confirms no override that is held")
	out = run(g, conf("c6", func(*scoring.Override) {}))
	if len(out.Entries) != 2 || out.Entries[0].Decision != Confirmed || out.Entries[1].Decision != Accepted ||
		out.Entries[1].SecondApprover != key("second") || len(out.Forward) != 1 || out.Forward[0].ID != held.ID {
		t.Fatalf("good confirmation: %+v, forwarded %+v", out.Entries, out.Forward)
	}
	f(conf("c7", func(*scoring.Override) {}), "confirms no override that is held")
	if g.HeldCount() != 0 {
		t.Fatalf("%d still held", g.HeldCount())
	}
}

func TestGuard_HeldOverrideLapses(t *testing.T) {
	p := policy(t, testPolicy)
	g := New(p, Options{})
	var os []scoring.Override
	for i := range 21 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Second))
	}
	run(g, os...)
	var out Output
	g.Advance(os[20].Until, &out)
	if len(out.Entries) != 1 || out.Entries[0].Decision != Refused || out.Entries[0].Override.ID != "a-0020" ||
		!strings.Contains(out.Entries[0].Why, "ended before anyone confirmed it") {
		t.Fatalf("lapse: %+v", out.Entries)
	}
}

func TestGuard_SettleAndDuplicates(t *testing.T) {
	p := policy(t, testPolicy)
	g := New(p, Options{Settle: time.Minute})
	o := ovr("a", 0, 0)
	g.Add(o)
	g.Add(o)
	var out Output
	g.Advance(o.At.Add(59*time.Second), &out)
	if len(out.Entries) != 0 || g.Pending() != 2 {
		t.Fatalf("decided before settling: %+v", out.Entries)
	}
	g.Advance(o.At.Add(time.Minute), &out)
	if len(out.Entries) != 1 || len(out.Forward) != 1 {
		t.Fatalf("after settling: %d entries, %d forwarded; want 1, 1 (the duplicate ignored)", len(out.Entries), len(out.Forward))
	}
	g.Add(o)
	out = Output{}
	g.Advance(o.At.Add(time.Hour), &out)
	if len(out.Entries) != 0 || g.Pending() != 0 {
		t.Fatalf("redelivered after its decision: %+v", out.Entries)
	}
}

// TestGuard_OrderIndependent decides one burst mixed with other traffic in
// shuffled arrival orders, advancing the clock in steps smaller than the
// settling time: every order gives the same decisions and alerts.
func TestGuard_OrderIndependent(t *testing.T) {
	p := policy(t, testPolicy)
	var os []scoring.Override
	for i := range 80 {
		os = append(os, ovr("a", i, time.Duration(i)*20*time.Second))
	}
	for i := range 30 {
		o := ovr(fmt.Sprintf("b%d", i%3), i, time.Duration(i)*time.Minute)
		o.Level, o.ReasonCode = 0, ""
		os = append(os, o)
	}
	type result struct {
		Entries []string
		Alerts  []string
	}
	decide := func(seed uint64) result {
		rng := rand.New(rand.NewPCG(seed, 1))
		// Each override arrives up to 4 minutes after its occurred_at; the
		// clock is the highest occurred_at arrived, so nothing is later than
		// the settling time behind it.
		type arrival struct {
			o  scoring.Override
			at int64
		}
		var order []arrival
		for _, o := range os {
			order = append(order, arrival{o, int64(o.At) + rng.Int64N(240)})
		}
		slices.SortStableFunc(order, func(a, b arrival) int { return cmp.Compare(a.at, b.at) })
		g := New(p, Options{Settle: 5 * time.Minute})
		var out Output
		clock := scoring.Time(0)
		for _, a := range order {
			g.Add(a.o)
			clock = max(clock, a.o.At)
			g.Advance(clock, &out)
		}
		g.Advance(clock.Add(time.Hour), &out)
		var r result
		for _, e := range out.Entries {
			r.Entries = append(r.Entries, e.Override.ID+"="+e.Decision)
		}
		for _, a := range out.Alerts {
			r.Alerts = append(r.Alerts, a.ID)
		}
		slices.Sort(r.Entries)
		slices.Sort(r.Alerts)
		return r
	}
	want := decide(1)
	if len(want.Alerts) == 0 {
		t.Fatal("the burst raised no alert")
	}
	for seed := uint64(2); seed < 10; seed++ {
		if got := decide(seed); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d decided differently:\n got %v\nwant %v", seed, got, want)
		}
	}
}

func TestGuard_Restore(t *testing.T) {
	p := policy(t, testPolicy)
	g := New(p, Options{})
	var os []scoring.Override
	for i := range 25 {
		os = append(os, ovr("a", i, time.Duration(i)*time.Second))
	}
	first := run(g, os[:22]...)
	// A second guard restored from the first one's entries decides the rest
	// as the first does, raising no second alert.
	r := New(p, Options{})
	for _, e := range first.Entries {
		r.Restore(e)
	}
	r.SetClock(g.Clock())
	r.Restored()
	a, b := run(g, os[22:]...), run(r, os...)
	if !reflect.DeepEqual(decisions(a), decisions(b)) || len(b.Alerts) != 0 || r.HeldCount() != g.HeldCount() {
		t.Fatalf("restored guard: %v, %d alerts, %d held; want %v, 0, %d", decisions(b), len(b.Alerts), r.HeldCount(), decisions(a), g.HeldCount())
	}
}

// DecideUpTo decides what is at or before the clock without waiting for the
// settling time, in time order, and leaves what is later waiting.
func TestGuard_DecideUpTo(t *testing.T) {
	p := policy(t, testPolicy)
	g := New(p, Options{Settle: time.Hour})
	a, b, c := ovr("a", 1, time.Minute), ovr("a", 0, 0), ovr("a", 2, 2*time.Minute)
	g.Add(a)
	g.Add(c)
	g.Add(b)
	var out Output
	g.Advance(a.At, &out)
	if len(out.Entries) != 0 {
		t.Fatalf("decided before settling: %+v", out.Entries)
	}
	if !g.Waiting(a.Source, a.ID) || g.Waiting(a.Source, "nothing") {
		t.Fatalf("Waiting: %v for an added override, %v for none", g.Waiting(a.Source, a.ID), g.Waiting(a.Source, "nothing"))
	}
	g.DecideUpTo(a.At, &out)
	if len(out.Entries) != 2 || out.Entries[0].Override.ID != b.ID || out.Entries[1].Override.ID != a.ID || g.Pending() != 1 {
		t.Fatalf("DecideUpTo: %+v, %d pending; want the earlier two, the earliest first, and one pending", out.Entries, g.Pending())
	}
	if g.Waiting(a.Source, a.ID) || !g.Waiting(c.Source, c.ID) {
		t.Fatalf("after DecideUpTo: a waiting %v, c waiting %v; want false, true", g.Waiting(a.Source, a.ID), g.Waiting(c.Source, c.ID))
	}
}
