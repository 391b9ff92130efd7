package scoring_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// t0 is the reference instant of the scenario tests.
var t0 = scoring.MustTime("2020-03-01T08:00:00+08:00")

// at returns t0 plus the sum of the given offsets, each a scoring.Duration
// ("14d", "1d12h") optionally prefixed by "-": at("14d", "-1s") is one second
// before day 14.
func at(offsets ...string) scoring.Time {
	t := int64(t0)
	for _, o := range offsets {
		neg := strings.HasPrefix(o, "-")
		d, err := scoring.ParseDuration(strings.TrimPrefix(o, "-"))
		if err != nil {
			panic(err)
		}
		s := int64(d.Std() / time.Second)
		if neg {
			s = -s
		}
		t += s
	}
	return scoring.Time(t)
}

// personKey returns a pseudonymous key for test person n (a hash, as real keys are).
func personKey(n int) scoring.PersonKey {
	sum := sha256.Sum256([]byte(fmt.Sprintf("test-person-%d", n)))
	return scoring.PersonKey(sum[:16])
}

var alice = personKey(1)

// step is one input of a scenario: a person event or an area designation.
type step struct {
	ev  *scoring.Event
	des *scoring.Designation
}

func (s step) time() scoring.Time {
	if s.ev != nil {
		return s.ev.At
	}
	return s.des.From
}

func evStep(ev scoring.Event) step {
	if ev.Person == (scoring.PersonKey{}) {
		ev.Person = alice
	}
	return step{ev: &ev}
}

func pcr(id string, t scoring.Time, r scoring.Result) step {
	return evStep(scoring.Event{Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: r, At: t, End: t.Add(6 * time.Hour), ID: id, Source: "lab"})
}

func posPCR(id string, t scoring.Time) step { return pcr(id, t, scoring.ResultPositive) }
func negPCR(id string, t scoring.Time) step { return pcr(id, t, scoring.ResultNegative) }

func antigen(id string, t scoring.Time, r scoring.Result) step {
	return evStep(scoring.Event{Kind: scoring.KindTest, Sub: uint8(scoring.TestAntigen), Result: r, At: t, ID: id, Source: "lab"})
}

func declaration(id string, t scoring.Time, symptoms uint8, tempDeci int16) step {
	return evStep(scoring.Event{Kind: scoring.KindDeclaration, Symptoms: symptoms, TempDeci: tempDeci, At: t, ID: id, Source: "decl"})
}

func exposure(id string, k scoring.ExposureKind, t scoring.Time) step {
	return evStep(scoring.Event{Kind: scoring.KindExposure, Sub: uint8(k), At: t, ID: id, Source: "tracing", Place: "V1"})
}

func arrival(id string, t scoring.Time, country string) step {
	return evStep(scoring.Event{Kind: scoring.KindArrival, At: t, End: t.Add(-11 * time.Hour), Country: country, Place: "CA936/2020-03-01", Row: 23, ID: id, Source: "customs"})
}

func travel(id string, from, until scoring.Time, region string, cell uint64) step {
	return evStep(scoring.Event{Kind: scoring.KindTravel, At: from, End: until, Place: region, Country: "CHN", Cell: cell, ID: id, Source: "telecom"})
}

func checkin(id string, from, until scoring.Time, cell uint64) step {
	return evStep(scoring.Event{Kind: scoring.KindCheckin, At: from, End: until, Place: "V330102000123", Cell: cell, ID: id, Source: "venue-app"})
}

func override(id string, t, until scoring.Time, level uint8, text string) step {
	return evStep(scoring.Event{Kind: scoring.KindOverride, At: t, End: until, Level: level, Text: text, ID: id, Source: "command"})
}

func designate(id string, kind scoring.AreaKind, code string, cell uint64, lvl scoring.RiskLevel, from, until scoring.Time) step {
	return step{des: &scoring.Designation{Kind: kind, Code: code, Cell: cell, Level: lvl, From: from, Until: until, ID: id}}
}

func country(id, code string, lvl scoring.RiskLevel, from, until scoring.Time) step {
	return designate(id, scoring.AreaCountry, code, 0, lvl, from, until)
}

func region(id, code string, lvl scoring.RiskLevel, from, until scoring.Time) step {
	return designate(id, scoring.AreaRegion, code, 0, lvl, from, until)
}

func loadPolicy(t testing.TB, name string) *scoring.Policy {
	t.Helper()
	p, err := policies.Load(name)
	if err != nil {
		t.Fatalf("load policy %s: %v", name, err)
	}
	return p
}

// runner drives an engine the way the scoring stage does: an event clock (the
// highest input time seen), timers advanced to the clock before each input,
// and every update collected. Like the pipeline it runs a contact tracer
// beside the engine (one place partition): the presences of every stay and
// the marks the engine raises go to it, and the exposures it finds come back
// as exposure events, so area risk (the tracer's) and contact chains are
// decided as in production.
type runner struct {
	t         testing.TB
	eng       *scoring.Engine
	tr        *tracing.Tracer
	clock     scoring.Time
	updates   []scoring.Update
	exposures []tracing.Exposure // every version the tracer emitted
}

func newRunner(t testing.TB, policy string) *runner {
	p := loadPolicy(t, policy)
	return &runner{t: t, eng: scoring.NewEngine(p, scoring.EngineOptions{}), tr: tracing.New(p, tracing.Options{})}
}

func (r *runner) step(s step) {
	r.t.Helper()
	r.clock = max(r.clock, s.time())
	r.updates = r.eng.Advance(r.clock, r.updates)
	if s.des != nil {
		r.updates = r.eng.AddDesignation(*s.des, r.clock, r.updates)
		r.loop(r.tr.AddDesignation(*s.des, nil))
		return
	}
	r.apply(s.ev)
}

// apply applies one person event, then feeds the tracer what it puts at
// places and the marks it raised, until no exposure is left.
func (r *runner) apply(ev *scoring.Event) {
	r.t.Helper()
	var err error
	r.updates, err = r.eng.Apply(ev, r.clock, r.updates)
	if err != nil {
		r.t.Fatalf("apply %s: %v", ev.ID, err)
	}
	var found []tracing.Exposure
	for _, pr := range tracing.PresencesOf(ev, r.eng.Policy()) {
		found = r.tr.AddPresence(pr, found)
	}
	for _, m := range r.eng.TakeMarks() {
		found = r.tr.AddMark(m, found)
	}
	r.loop(found)
}

func (r *runner) loop(found []tracing.Exposure) {
	r.t.Helper()
	for _, x := range found {
		r.exposures = append(r.exposures, x)
		ev := x.Event()
		r.apply(&ev)
	}
}

// advance moves the clock to now and fires due timers.
func (r *runner) advance(now scoring.Time) {
	r.t.Helper()
	if now < r.clock {
		r.t.Fatalf("advance to %s: clock is already at %s", fmtTime(now), fmtTime(r.clock))
	}
	r.clock = now
	r.updates = r.eng.Advance(now, r.updates)
}

// last returns the last update issued for k.
func (r *runner) last(k scoring.PersonKey) (scoring.Update, bool) {
	for i := len(r.updates) - 1; i >= 0; i-- {
		if r.updates[i].Person == k {
			return r.updates[i], true
		}
	}
	return scoring.Update{}, false
}

// of returns the updates issued for k, in order.
func (r *runner) of(k scoring.PersonKey) []scoring.Update {
	var out []scoring.Update
	for _, u := range r.updates {
		if u.Person == k {
			out = append(out, u)
		}
	}
	return out
}

func fmtTime(t scoring.Time) string {
	if t == 0 {
		return "-"
	}
	return t.Format(time.FixedZone("CST", 8*3600))
}

func ruleIDs(rs []scoring.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.RuleID())
	}
	return out
}

// checkConsistent verifies what every update must satisfy: versions rising by
// one from 1, Previous chaining levels (-1 first), reasons at the update's
// level, clears_when texts where a test is needed.
func checkConsistent(t testing.TB, p *scoring.Policy, ups []scoring.Update) {
	t.Helper()
	for i, u := range ups {
		wantPrev := -1
		if i > 0 {
			wantPrev = int(ups[i-1].Level)
		}
		if u.Version != uint32(i+1) || u.Previous != wantPrev {
			t.Errorf("update %d: version %d previous %d, want %d and %d", i, u.Version, u.Previous, i+1, wantPrev)
		}
		if i > 0 && u.Effective < ups[i-1].Effective {
			t.Errorf("update %d: effective %s before the previous update's %s", i, fmtTime(u.Effective), fmtTime(ups[i-1].Effective))
		}
		if u.Review != 0 && u.Review <= u.Effective {
			t.Errorf("update %d: review %s not after effective %s", i, fmtTime(u.Review), fmtTime(u.Effective))
		}
		if u.Level > 0 && len(u.Reasons) == 0 {
			t.Errorf("update %d: level %d without reasons", i, u.Level)
		}
		for _, r := range u.Reasons {
			if len(r.Evidence) == 0 {
				t.Errorf("update %d: reason %s without evidence", i, r.RuleID())
			}
			if r.Rule == nil {
				continue
			}
			if r.Rule.Level() != u.Level {
				t.Errorf("update %d: reason %s at level %d, update at %d", i, r.Rule.ID, r.Rule.Level(), u.Level)
			}
			if r.Rule.Clear != scoring.ClearTime && (r.Rule.ClearsEN == "" || r.Rule.ClearsZH == "") {
				t.Errorf("update %d: reason %s needs a test but has no clears_when", i, r.Rule.ID)
			}
			if r.Rule.TextEN == "" || r.Rule.TextZH == "" {
				t.Errorf("update %d: reason %s without text", i, r.Rule.ID)
			}
		}
	}
	if slices.ContainsFunc(ups, func(u scoring.Update) bool { return int(u.Level) >= len(p.Colours) }) {
		t.Errorf("an update has a level outside the policy's %d colours", len(p.Colours))
	}
}
