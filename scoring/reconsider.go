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
		out = e.reconsider(t.idx, t.at, t.at, out)
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
	for _, d := range ds {
		if e.areas.Add(d) && d.Kind == AreaCountry && len(d.Code) == 3 {
			c := [3]byte([]byte(d.Code))
			if !slices.Contains(countries, c) {
				countries = append(countries, c)
			}
		}
	}
	for _, c := range countries {
		out = e.reconsiderArrivals(c, now, out)
	}
	return out
}

// reconsiderArrivals reconsiders every person with a recent arrival from
// country c, and forgets those whose latest arrivals no longer include it.
func (e *Engine) reconsiderArrivals(c [3]byte, now Time, out []Update) []Update {
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
		out = e.reconsider(idx, now, now, out)
	}
	e.abroad[c] = kept
	return out
}
