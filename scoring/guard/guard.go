// Package guard is the override guard: it judges official overrides under a
// policy's override rules (the colours an override may set, reason codes, the
// longest until, a per-officer rate limit), counts them over sliding windows
// of event time (per officer, per officer and approver, per target colour,
// per region), raises bulk alerts, holds the overrides an alert covers until
// a second approver confirms them, and says which overrides become person
// events. It is pure: no I/O, no wall clock; it must not import pipeline,
// sources, sinks or any client library. It imports scoring.
//
// Decisions do not depend on arrival order: an override is decided once the
// clock has passed its occurred_at by Options.Settle, and the overrides due
// together are decided in (occurred_at, source, event_id) order. An override
// that arrives later than that is decided on arrival against the windows as
// they stand (see docs/overrides.md).
package guard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"healthcode/scoring"
)

// Decision kinds of an audit entry.
const (
	Accepted  = "accepted"  // forwarded to the person's partition
	Refused   = "refused"   // not forwarded; Why says why
	Held      = "held"      // waits for a second approver; Why names the alerts
	Confirmed = "confirmed" // a confirmation that released a held override
)

// Entry is one audit entry the guard decides.
type Entry struct {
	Decision       string
	Override       scoring.Override
	At             scoring.Time      // the guard's clock when it decided
	Why            string            // one sentence, no identifiers; "" when accepted outright
	SecondApprover scoring.PersonKey // on the acceptance of a confirmed override: who confirmed it
}

// Alert is a bulk alert: Count overrides of its scope within the rule's
// window ending at RaisedAt, more than the rule's threshold.
type Alert struct {
	ID       string // deterministic: "alert-" + rule + the override that raised it
	Rule     *scoring.AlertRule
	Officer  scoring.PersonKey // officer and pair scopes
	Approver scoring.PersonKey // pair scope
	Level    int               // colour scope: the target colour; else -1
	Region   string            // region scope
	Count    int
	RaisedAt scoring.Time // occurred_at of the override that raised it
	EventID  string       // that override
}

// Output is what one Advance decided.
type Output struct {
	Forward []scoring.Event // accepted overrides, as person events
	Entries []Entry
	Alerts  []Alert
}

// Options configure a Guard. The zero value is valid.
type Options struct {
	// Settle is how long after an override's occurred_at the guard waits
	// before deciding it, so overrides arriving in another order within it
	// are decided as if in time order. Default time.Minute.
	Settle time.Duration
	// Keep is how long decided event ids are remembered (duplicates within
	// it are ignored). Default 35 days.
	Keep time.Duration
}

// Guard holds the windows, alerts and held overrides of the overrides it
// decided. Not safe for concurrent use: one goroutine owns it.
type Guard struct {
	p       *scoring.Policy
	o       Options
	clock   scoring.Time
	pruned  scoring.Time // when decided ids were last pruned
	pending []scoring.Override
	decided map[string]scoring.Time // source + "\x00" + event id -> occurred_at
	held    map[string]*scoring.Override
	counts  map[scope][]scoring.Time // sorted occurred_at of the overrides counted (accepted or held)
	exceed  map[scope][]scoring.Time // sorted occurred_at of the counted overrides over a threshold
}

// scope is one window: an alert rule's (rule >= 0) or the rate limit's (-1).
type scope struct {
	rule     int
	officer  scoring.PersonKey
	approver scoring.PersonKey
	level    int
	region   string
}

// New returns a guard deciding under p's override rules.
func New(p *scoring.Policy, o Options) *Guard {
	if o.Settle <= 0 {
		o.Settle = time.Minute
	}
	if o.Keep <= 0 {
		o.Keep = 35 * 24 * time.Hour
	}
	return &Guard{p: p, o: o, decided: map[string]scoring.Time{}, held: map[string]*scoring.Override{},
		counts: map[scope][]scoring.Time{}, exceed: map[scope][]scoring.Time{}}
}

// Clock is the highest time Advance was given.
func (g *Guard) Clock() scoring.Time { return g.clock }

// Pending is the number of overrides waiting for the clock.
func (g *Guard) Pending() int { return len(g.pending) }

// HeldCount is the number of overrides waiting for a second approver.
func (g *Guard) HeldCount() int { return len(g.held) }

func idKey(source, id string) string { return source + "\x00" + id }

// Add queues an override; it is decided by the first Advance whose clock is
// Settle past its occurred_at. An override already decided is ignored.
func (g *Guard) Add(o scoring.Override) {
	if _, ok := g.decided[idKey(o.Source, o.ID)]; ok {
		return
	}
	g.pending = append(g.pending, o)
}

// Advance moves the clock to now (it never goes back) and decides every
// override due, in time order, appending to out.
func (g *Guard) Advance(now scoring.Time, out *Output) { g.advance(now, false, out) }

// DecideUpTo moves the clock to now and decides every override at or before
// it in time order without waiting for the settling time: for when no
// override older than now can still arrive (every partition of the input
// has been read to its end and nothing is being written). Later ones wait.
func (g *Guard) DecideUpTo(now scoring.Time, out *Output) { g.advance(now, true, out) }

// Waiting reports whether the override source/id was added and is still
// waiting for the clock.
func (g *Guard) Waiting(source, id string) bool {
	for i := range g.pending {
		if g.pending[i].ID == id && g.pending[i].Source == source {
			return true
		}
	}
	return false
}

// advance decides the overrides Settle past the clock, or with unsettled
// those at or before it.
func (g *Guard) advance(now scoring.Time, unsettled bool, out *Output) {
	g.clock = max(g.clock, now)
	slices.SortFunc(g.pending, func(a, b scoring.Override) int {
		if a.At != b.At {
			return int(int64(a.At) - int64(b.At))
		}
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	n := 0
	for n < len(g.pending) && (g.pending[n].At.Add(g.o.Settle) <= g.clock || unsettled && g.pending[n].At <= g.clock) {
		n++
	}
	due := g.pending[:n]
	for i := range due {
		g.decide(&due[i], out)
	}
	g.pending = append(g.pending[:0], g.pending[n:]...)
	g.expire(out)
}

func (g *Guard) decide(o *scoring.Override, out *Output) {
	k := idKey(o.Source, o.ID)
	if _, ok := g.decided[k]; ok {
		return // a duplicate queued twice before its first decision
	}
	g.decided[k] = o.At
	if o.Confirms != "" {
		g.confirm(o, out)
		return
	}
	if why := g.refusal(o); why != "" {
		out.Entries = append(out.Entries, Entry{Decision: Refused, Override: *o, At: g.clock, Why: why})
		return
	}
	standing := g.count(o, out)
	if len(standing) > 0 {
		g.held[k] = o
		out.Entries = append(out.Entries, Entry{Decision: Held, Override: *o, At: g.clock,
			Why: fmt.Sprintf("held for a second approver while alert %s stands", strings.Join(standing, ", "))})
		return
	}
	out.Entries = append(out.Entries, Entry{Decision: Accepted, Override: *o, At: g.clock})
	out.Forward = append(out.Forward, o.Event())
}

// refusal says why the policy's rules refuse o, or "".
func (g *Guard) refusal(o *scoring.Override) string {
	r := &g.p.Overrides
	colour := g.p.Colours[min(int(o.Level), len(g.p.Colours)-1)]
	switch r.Allow(o.Level) {
	case scoring.AllowNever:
		return fmt.Sprintf("the policy does not let an override set the colour %s", colour)
	case scoring.AllowReasonCode:
		if o.ReasonCode == "" {
			return fmt.Sprintf("the policy lets an override set the colour %s only with a reason code", colour)
		}
	}
	if o.ReasonCode != "" && !r.KnowsReasonCode(o.ReasonCode) {
		return "the reason code is not one of the policy's reason codes"
	}
	if r.MaxUntil > 0 && o.Until > o.At.Add(r.MaxUntil.Std()) {
		return fmt.Sprintf("until is more than %s after occurred_at, the longest override the policy allows", r.MaxUntil)
	}
	if l := r.RateLimit; l != nil {
		if countIn(g.counts[scope{rule: -1, officer: o.Officer}], o.At, l.Window.Std()) >= l.Max {
			return fmt.Sprintf("the officer already has %d overrides within %s, the policy's limit", l.Max, l.Window)
		}
	}
	return ""
}

// scopeOf returns the window of rule i that o counts in.
func scopeOf(a *scoring.AlertRule, i int, o *scoring.Override) scope {
	s := scope{rule: i, level: -1}
	switch a.By {
	case scoring.ScopeOfficer:
		s.officer = o.Officer
	case scoring.ScopePair:
		s.officer, s.approver = o.Officer, o.Approver
	case scoring.ScopeColour:
		s.level = int(o.Level)
	case scoring.ScopeRegion:
		s.region = o.Region
	}
	return s
}

// addCounts adds o to every window it counts in.
func (g *Guard) addCounts(o *scoring.Override) {
	if g.p.Overrides.RateLimit != nil {
		s := scope{rule: -1, officer: o.Officer}
		g.counts[s] = insertTime(g.counts[s], o.At)
	}
	for i := range g.p.Overrides.Alerts {
		if a := &g.p.Overrides.Alerts[i]; counts(a, o) {
			s := scopeOf(a, i, o)
			g.counts[s] = insertTime(g.counts[s], o.At)
		}
	}
}

// counts reports whether o counts for alert rule a.
func counts(a *scoring.AlertRule, o *scoring.Override) bool {
	return a.Matches(o.Level) && (a.By != scoring.ScopeRegion || o.Region != "")
}

// count adds o to its windows, raises the alerts it passes and returns the
// ids of the alerts standing over it.
func (g *Guard) count(o *scoring.Override, out *Output) []string {
	g.addCounts(o)
	var standing []string
	for i := range g.p.Overrides.Alerts {
		a := &g.p.Overrides.Alerts[i]
		if !counts(a, o) {
			continue
		}
		s := scopeOf(a, i, o)
		w := a.Window.Std()
		n := countIn(g.counts[s], o.At, w)
		ex := g.exceed[s]
		if n > a.Over {
			if !near(ex, o.At, w) {
				out.Alerts = append(out.Alerts, Alert{ID: alertID(a.ID, o), Rule: a, Officer: s.officer, Approver: s.approver,
					Level: s.level, Region: s.region, Count: n, RaisedAt: o.At, EventID: o.ID})
			}
			g.exceed[s] = insertTime(ex, o.At)
			standing = append(standing, a.ID)
		} else if stands(ex, o.At, w) {
			standing = append(standing, a.ID)
		}
	}
	return standing
}

func alertID(rule string, o *scoring.Override) string {
	return "alert-" + rule + "-" + o.Source + "-" + o.ID
}

// confirm releases the held override o names, if o may confirm it.
func (g *Guard) confirm(o *scoring.Override, out *Output) {
	hk := idKey(o.Source, o.Confirms)
	h, ok := g.held[hk]
	why := ""
	switch {
	case !ok:
		why = "it confirms no override that is held for a second approver"
	case o.Officer != h.Officer:
		why = "a confirmation must come from the officer of the held override"
	case o.Approver == h.Officer || o.Approver == h.Approver:
		why = "a confirmation needs a second approver, other than the held override's officer and approver"
	case o.Person != h.Person || o.Level != h.Level || o.Until != h.Until:
		why = "it does not match the held override: person, colour and until must be the same"
	}
	if why != "" {
		out.Entries = append(out.Entries, Entry{Decision: Refused, Override: *o, At: g.clock, Why: why})
		return
	}
	delete(g.held, hk)
	out.Entries = append(out.Entries,
		Entry{Decision: Confirmed, Override: *o, At: g.clock},
		Entry{Decision: Accepted, Override: *h, At: g.clock, Why: "confirmed by a second approver", SecondApprover: o.Approver})
	out.Forward = append(out.Forward, h.Event())
}

// expire refuses held overrides that ended unconfirmed and forgets what no
// window can count any more.
func (g *Guard) expire(out *Output) {
	var ended []string
	for k, h := range g.held {
		if h.Until <= g.clock {
			ended = append(ended, k)
		}
	}
	slices.Sort(ended)
	for _, k := range ended {
		out.Entries = append(out.Entries, Entry{Decision: Refused, Override: *g.held[k], At: g.clock,
			Why: "it was held for a second approver and ended before anyone confirmed it"})
		delete(g.held, k)
	}
	// Late overrides are counted against the windows as they stand: keep
	// two windows and the settling time.
	horizon := g.clock.Add(-2*g.p.Overrides.LongestWindow() - g.o.Settle)
	for s, ts := range g.counts {
		if ts = dropBefore(ts, horizon); len(ts) == 0 {
			delete(g.counts, s)
		} else {
			g.counts[s] = ts
		}
	}
	for s, ts := range g.exceed {
		if ts = dropBefore(ts, horizon); len(ts) == 0 {
			delete(g.exceed, s)
		} else {
			g.exceed[s] = ts
		}
	}
	if g.clock < g.pruned.Add(time.Hour) {
		return
	}
	g.pruned = g.clock
	keep := g.clock.Add(-g.o.Keep)
	for k, at := range g.decided {
		if at < keep {
			delete(g.decided, k)
		}
	}
}
