package scoring

import "hash/fnv"

// Active is one rule in force for a person at the decision time.
type Active struct {
	Rule   int // index in Policy.Rules; -1 for an official override
	Level  uint8
	Anchor Time         // the fact's time the rule counts from
	Until  Time         // when the time part of the rule ends; 0 if no time is known
	Ref    Ref          // the event behind the anchor
	Area   *Designation // for arrival rules: the designation that made the country risky
}

// Decision is the outcome of the policy for one person at one instant.
type Decision struct {
	Level    uint8
	Override bool     // an official override sets the colour
	Top      []Active // the active rules at Level (the update's reasons)
	All      []Active // every active rule, for explanation
	Review   Time     // earliest time the decision can change by the clock alone; 0 = none

	scratch []Active // what All and Top are cut from, for the next decision
}

// storedAnchor returns the anchor of a fact a state record carries (fact <
// numStored).
func (e *Engine) storedAnchor(p *person, fact Fact) anchor {
	switch fact {
	case FactPositivePCR:
		if p.cs != nil {
			return p.cs.Positive
		}
		return anchor{}
	case FactSuspect:
		return anchor{at: p.f.Suspect, ref: p.f.SuspectRef}
	}
	return e.exposureAnchor(p.c, exposureOf(fact))
}

// anchorOf returns the anchor time, evidence and (for arrivals) designation of a
// fact, deriving arrival facts from the arrivals and the area table.
func (e *Engine) anchorOf(p *person, jf *journeyFacts, fact Fact) (Time, Ref, *Designation) {
	if int(fact) < numStored {
		a := e.storedAnchor(p, fact)
		return a.at, a.ref, nil
	}
	switch fact {
	case FactArrivalUndeclared:
		return jf.undeclared.at, jf.undeclared.ref, nil
	case FactArrivalOtherFlight:
		return jf.otherFlight.at, jf.otherFlight.ref, nil
	case FactJourneyDeclared:
		return jf.declared.at, jf.declared.ref, nil
	}
	if p.j == nil {
		return 0, 0, nil
	}
	switch fact {
	case FactArrivalAbroad:
		return p.j.arrivals[0].At, p.j.arrivals[0].Ref, nil
	case FactArrivalHigh, FactArrivalMedium:
		want := RiskHigh
		if fact == FactArrivalMedium {
			want = RiskMedium
		}
		for _, a := range p.j.arrivals {
			if a.At == 0 {
				break
			}
			if lvl, d := e.areas.CountryAt(string(a.Country[:]), a.At); lvl == want {
				return a.At, a.Ref, d
			}
		}
	}
	return 0, 0, nil
}

// testsPass reports whether the negative PCRs in f clear t for anchor a.
func testsPass(f *Facts, t *Tests, a Time) bool {
	min := a.Add(t.After.Std())
	var n Time
	switch t.NegativePCR {
	case 1:
		n = f.Neg[0]
	case 2:
		n = f.NegQ
	}
	return n > a && n >= min
}

// inert reports, from the hot facts alone, that no rule applies to the
// person at now or can start to by the clock alone, and no override holds:
// the decision is green with no reason and no review. Each rule is judged at
// the person's own anchor for suspect and at Facts.Latest for the facts of
// the cold records the person has (Facts.Seen): a rule that has started and
// cleared for an anchor has for every earlier one (its start and end come
// earlier, and a test clearing a later anchor clears an earlier one), and
// Latest is at least every anchor those records can give. It is only ever
// true where decide gives that decision; false says nothing.
func (e *Engine) inert(f *Facts, now Time) bool {
	if f.Seen == 0 && f.Suspect == 0 {
		return true
	}
	if f.Seen&seenOverride != 0 && now < f.Latest {
		return false
	}
	for i := range e.policy.Rules {
		r := &e.policy.Rules[i]
		a := f.Suspect
		if r.Fact != FactSuspect {
			if f.Seen&seenOf(r.Fact) == 0 {
				continue
			}
			a = f.Latest
		}
		if a != 0 && !ruleDone(f, r, a, now) {
			return false
		}
	}
	return true
}

// ruleDone reports whether rule r, anchored at a, has started and cleared at
// now (decide's tests, read the same way).
func ruleDone(f *Facts, r *Rule, a, now Time) bool {
	if r.From > 0 && now < a.Add(r.From.Std()) {
		return false
	}
	tests := r.Clear.needsTests() && testsPass(f, r.Tests, a)
	timeDone := r.For > 0 && now >= a.Add(r.For.Std())
	switch r.Clear {
	case ClearTime:
		return timeDone
	case ClearTests:
		return tests
	case ClearTimeAndTests:
		return timeDone && tests
	case ClearTimeOrTests:
		return timeDone || tests
	}
	return false
}

// decide applies the policy to person ps at now. It is a pure function of the
// person's facts and cold records, the policy, the area table and now. buf is
// reused for the result's slices.
func (e *Engine) decide(ps *person, now Time, buf []Active) Decision {
	f := ps.f
	if f.Suspect == 0 && f.flags&(hasCold|hasJourney|hasCase) == 0 {
		// No anchor and no override: no rule applies or is pending (most
		// persons, most of the time).
		return Decision{All: buf[:0:0], Top: buf[:0:0], scratch: buf[:0]}
	}
	p := e.policy
	jf := e.journeyFactsOf(ps)
	var d Decision
	all := buf[:0]
	review := Time(0)
	soon := func(t Time) {
		if t > now && (review == 0 || t < review) {
			review = t
		}
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		a, ref, area := e.anchorOf(ps, &jf, r.Fact)
		if a == 0 {
			continue
		}
		tests := r.Clear.needsTests() && testsPass(f, r.Tests, a)
		var end Time
		if r.For > 0 {
			end = a.Add(r.For.Std())
		}
		if r.From > 0 {
			if start := a.Add(r.From.Std()); now < start {
				if !(tests && (r.Clear == ClearTests || r.Clear == ClearTimeOrTests)) {
					soon(start)
				}
				continue
			}
		}
		timeDone := end != 0 && now >= end
		var cleared bool
		switch r.Clear {
		case ClearTime:
			cleared = timeDone
		case ClearTests:
			cleared = tests
		case ClearTimeAndTests:
			cleared = timeDone && tests
		case ClearTimeOrTests:
			cleared = timeDone || tests
		}
		if cleared {
			continue
		}
		if r.Clear != ClearTimeAndTests || tests {
			soon(end)
		}
		all = append(all, Active{Rule: i, Level: r.level, Anchor: a, Until: end, Ref: ref, Area: area})
		if r.level > d.Level {
			d.Level = r.level
		}
	}
	if cs := ps.cs; cs != nil && cs.OverrideUntil > now {
		// Apply refuses levels the policy lacks, but a policy with fewer
		// colours (SetPolicy) or a damaged state record can still hold one:
		// cap it at the top colour so every level indexes Policy.Colours.
		lvl := min(cs.OverrideLevel, uint8(len(p.Colours)-1))
		d.Override = true
		d.Level = lvl
		soon(cs.OverrideUntil)
		all = append(all, Active{Rule: -1, Level: lvl, Anchor: cs.OverrideAt, Until: cs.OverrideUntil, Ref: cs.OverrideRef})
	}
	n := len(all)
	for i := 0; i < n; i++ {
		if a := all[i]; (d.Override && a.Rule == -1) || (!d.Override && a.Level == d.Level) {
			all = append(all, a)
		}
	}
	d.All, d.Top, d.Review, d.scratch = all[:n:n], all[n:], review, all[:0]
	return d
}

// hashOf summarises what an update shows (colour, reasons, review time), so that
// an update is issued exactly when one of them changes.
func (e *Engine) hashOf(ps *person, d *Decision) uint32 {
	h := fnv.New32a()
	var b [16]byte
	put := func(v uint32) {
		b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		h.Write(b[:4])
	}
	put(uint32(d.Level))
	put(uint32(d.Review))
	for _, a := range d.Top {
		if a.Rule < 0 {
			put(0xFFFFFFFF)
			h.Write(e.strs.Bytes(ps.cs.OverrideText))
		} else {
			put(e.policy.Rules[a.Rule].hash)
		}
		put(uint32(a.Anchor))
		put(uint32(a.Until))
		h.Write(e.strs.Bytes(a.Ref))
		if a.Area != nil {
			h.Write([]byte(a.Area.ID))
		}
	}
	return h.Sum32()
}
