package scoring

import "slices"

// A person is decided again after an event that changed their facts (Apply),
// when a review time comes (Advance), and when the policy or the area table
// changes (SetPolicy, AddDesignations); an update is issued only when what
// it shows changes.

// shownHash is the hash of what an update shows (hashOf) with whether it
// says that a declaration is required.
func shownHash(h uint32, declarationRequired bool) uint32 {
	if declarationRequired {
		return h*16777619 ^ 0xdec1a4ed
	}
	return h
}

// reconsider decides person idx at now and appends an update if what a code
// service shows changed. effective is the instant the update takes effect.
func (e *Engine) reconsider(idx uint32, now, effective Time, out []Update) []Update {
	if e.opts.EventTime {
		e.decided[idx] = max(e.decided[idx], now)
	}
	ps := person{f: &e.facts[idx]}
	f := ps.f
	var d Decision // green, no reason, no review: what an inert person gets
	h := e.hash0
	if f.flags&declared != 0 || !e.inert(f, now) {
		ps = e.person(idx)
		d = e.decide(&ps, now, e.buf)
		e.buf = d.scratch
		e.checkJourney(idx, &ps, &d, now, effective)
		h = e.hashOf(&ps, &d)
	}
	req := e.declarationRequired(ps.j)
	h = shownHash(h, req)
	if d.Review != f.Review {
		f.Review = d.Review
		if d.Review != 0 {
			e.timers.push(timer{at: d.Review, idx: idx})
		}
		e.markDirty(idx)
	}
	if f.Issued != issuedNone && h == f.Hash {
		return out
	}
	prev := -1
	if f.Issued != issuedNone {
		prev = int(f.Issued)
	}
	f.Issued, f.Hash = d.Level, h
	f.Version++
	e.markDirty(idx)
	u := Update{
		Person:    f.Person,
		Level:     d.Level,
		Previous:  prev,
		Version:   f.Version,
		Effective: effective,
		Review:    d.Review,
		Reasons:   make([]Reason, 0, len(d.Top)),

		DeclarationRequired: req,
	}
	for _, a := range d.Top {
		r := Reason{Until: a.Until}
		if id := e.strs.Get(a.Ref); id != "" {
			r.Evidence = append(r.Evidence, id)
		}
		if a.Area != nil && a.Area.ID != "" {
			r.Evidence = append(r.Evidence, a.Area.ID)
		}
		if a.Rule >= 0 {
			r.Rule = &e.policy.Rules[a.Rule]
		} else {
			r.Text = e.strs.Get(ps.cs.OverrideText)
		}
		u.Reasons = append(u.Reasons, r)
	}
	return append(out, u)
}

// decisionTime returns when person idx is decided on ev, given the clock now,
// after appending the updates of the person's own review times that fall
// before it. Without EngineOptions.EventTime it is now. With it, it is the
// event's own time (never past now: an exposure can be dated ahead of the
// clock), or the person's latest decision if that is later, so that a person's
// decisions and their dates follow from the person's own input and not from
// how far other persons' input had moved the clock when it came: a late
// event is decided as of the person's latest decision, never before it (a
// colour or a journey row decided earlier would take back what a decision
// already showed). A review time of the person's that falls before the
// decision time is taken first, dated at itself, as the clock would have
// taken it.
func (e *Engine) decisionTime(idx uint32, ev *Event, now Time, out []Update) (Time, []Update) {
	if !e.opts.EventTime {
		return now, out
	}
	t := now
	if ev.At != 0 {
		t = min(ev.At, now)
	}
	return e.personTime(idx, t, out)
}

// personTime returns when person idx is decided on something that happened
// at t (EngineOptions.EventTime): t, or the person's latest decision if that
// is later, after appending the updates of the person's review times up to t.
func (e *Engine) personTime(idx uint32, t Time, out []Update) (Time, []Update) {
	f := &e.facts[idx]
	for f.Issued != issuedNone && f.Review != 0 && f.Review <= t {
		r := f.Review
		out = e.reconsider(idx, r, r, out)
		if f.Review == r {
			break
		}
	}
	return max(t, e.decided[idx]), out
}

// Advance fires every timer due at or before now and appends the updates they
// cause. Each timer-driven update takes effect at its review time and shows
// the decision of that instant, so a clock that jumps over several reviews
// (red, then yellow, then green) still reports each change when it happened;
// the review it sets is pushed and fires in the same call if due.
func (e *Engine) Advance(now Time, out []Update) []Update {
	for {
		t, ok := e.timers.peek()
		if !ok || t.at > now {
			return out
		}
		e.timers.pop()
		if e.facts[t.idx].Review != t.at && !e.journeyTimer(t.idx, t.at) {
			continue // superseded
		}
		at := t.at
		if e.opts.EventTime {
			at = max(at, e.decided[t.idx]) // never before the person's latest decision
		}
		out = e.reconsider(t.idx, at, at, out)
	}
}

// NextTimer returns the earliest pending review time (0 if none).
func (e *Engine) NextTimer() Time {
	for {
		t, ok := e.timers.peek()
		if !ok {
			return 0
		}
		if e.facts[t.idx].Review == t.at || e.journeyTimer(t.idx, t.at) {
			return t.at
		}
		e.timers.pop()
	}
}

// SetPolicy switches to policy p and recomputes every person at now, appending
// the updates that result.
func (e *Engine) SetPolicy(p *Policy, now Time, out []Update) []Update {
	e.policy = p
	// Most persons are inert and were last issued that decision: reconsider
	// would find it again, so they are passed over in place.
	empty := shownHash(e.hash0, e.declarationRequired(nil))
	for idx := range e.facts {
		f := &e.facts[idx]
		if f.Review == 0 && f.Hash == empty && f.Issued != issuedNone && f.flags&declared == 0 && e.inert(f, now) {
			continue
		}
		out = e.reconsider(uint32(idx), now, now, out)
	}
	return out
}

// AddDesignation adds an area designation. Country designations are
// retroactive: every person with an arrival from that country is reconsidered.
func (e *Engine) AddDesignation(d Designation, now Time, out []Update) []Update {
	return e.AddDesignations([]Designation{d}, now, out)
}

// AddDesignations adds designations, then reconsiders the persons they can
// affect once, with all of them known: a restored partition that loads the
// whole table must not issue a decision taken on half of it.
func (e *Engine) AddDesignations(ds []Designation, now Time, out []Update) []Update {
	var countries [][3]byte
	var from []Time // by country: the latest start of its new designations
	for _, d := range ds {
		if e.areas.Add(d) && d.Kind == AreaCountry && len(d.Code) == 3 {
			c := [3]byte([]byte(d.Code))
			if i := slices.Index(countries, c); i >= 0 {
				from[i] = max(from[i], d.From)
			} else {
				countries = append(countries, c)
				from = append(from, d.From)
			}
		}
	}
	for i, c := range countries {
		at := now
		if e.opts.EventTime {
			at = min(from[i], now) // as of the designation's start (EngineOptions.EventTime)
		}
		out = e.reconsiderArrivals(c, now, at, out)
	}
	return out
}

// reconsiderArrivals reconsiders every person with a recent arrival from
// country c, and forgets those whose latest arrivals no longer include it.
// With EngineOptions.EventTime each is decided as of at or their latest decision.
func (e *Engine) reconsiderArrivals(c [3]byte, now, at Time, out []Update) []Update {
	list := e.abroad[c]
	kept := list[:0]
	seen := make(map[uint32]bool, len(list))
	for _, idx := range list {
		if seen[idx] {
			continue
		}
		seen[idx] = true
		j := e.journeyIf(idx, &e.facts[idx])
		if j == nil || (j.arrivals[0].Country != c && j.arrivals[1].Country != c) {
			continue // no longer among the person's latest arrivals
		}
		kept = append(kept, idx)
		t := now
		if e.opts.EventTime {
			t, out = e.personTime(idx, at, out)
		}
		out = e.reconsider(idx, t, t, out)
	}
	e.abroad[c] = kept
	return out
}
