package scoring

// A person's state lives in one hot Facts, by position in Engine.facts, and
// in the cold records the few persons who need them have, by the same
// position in the engine's maps; the flags of Facts say which exist, so that
// a person without one never looks one up.

// person is one person's state as a decision reads it: the hot facts and the
// cold records the person has (nil where none).
type person struct {
	f  *Facts
	c  *cold
	j  *journey
	cs *caseFacts
}

// person gathers person idx's state, looking up only the cold records the
// person's flags say exist.
func (e *Engine) person(idx uint32) person {
	f := &e.facts[idx]
	p := person{f: f}
	if f.flags&(hasCold|hasJourney|hasCase) == 0 {
		return p
	}
	p.c = e.coldIf(idx, f)
	p.j = e.journeyIf(idx, f)
	if f.flags&hasCase != 0 {
		p.cs = e.cases[idx]
	}
	return p
}

// caseFacts is the cold record of a person with a positive PCR or an
// official override (Engine.cases).
type caseFacts struct {
	Positive      anchor // latest positive PCR sample (FactPositivePCR)
	FirstPositive Time   // sample time of the first positive PCR (start of the infectious window)
	FirstReported Time   // its reported_at (end of the infectious window)

	OverrideAt    Time
	OverrideUntil Time
	OverrideRef   Ref
	OverrideText  Ref
	OverrideLevel uint8
}

func (c *caseFacts) empty() bool { return *c == caseFacts{} }

// caseOf returns person idx's case record, creating it.
func (e *Engine) caseOf(idx uint32, f *Facts) *caseFacts {
	if f.flags&hasCase != 0 {
		return e.cases[idx]
	}
	c := &caseFacts{}
	e.cases[idx] = c
	f.flags |= hasCase
	return c
}

// coldIf returns person idx's cold record, nil if none.
func (e *Engine) coldIf(idx uint32, f *Facts) *cold {
	if f.flags&hasCold == 0 {
		return nil
	}
	return e.cold[idx]
}

// coldOf returns person idx's cold record, creating it.
func (e *Engine) coldOf(idx uint32, f *Facts) *cold {
	if c := e.coldIf(idx, f); c != nil {
		return c
	}
	c := &cold{}
	e.cold[idx] = c
	f.flags |= hasCold
	return c
}

// journeyIf returns person idx's journey record, nil if none.
func (e *Engine) journeyIf(idx uint32, f *Facts) *journey {
	if f.flags&hasJourney == 0 {
		return nil
	}
	return e.journeys[idx]
}

// journeyOf returns person idx's journey record, creating it.
func (e *Engine) journeyOf(idx uint32, f *Facts) *journey {
	if j := e.journeyIf(idx, f); j != nil {
		return j
	}
	j := &journey{}
	e.journeys[idx] = j
	f.flags |= hasJourney
	return j
}

// install replaces what the engine holds for person idx by f and the cold
// records (each dropped when empty), keeping the person's place in the dirty
// list.
func (e *Engine) install(idx uint32, f Facts, c *cold, j *journey, cs *caseFacts) {
	old := &e.facts[idx]
	f.Person, f.flags = old.Person, old.flags&isDirty
	summarise(&f, c, j, cs)
	if c.empty() {
		delete(e.cold, idx)
	} else {
		e.cold[idx] = c
		f.flags |= hasCold
	}
	if j == nil {
		delete(e.journeys, idx)
	} else {
		e.journeys[idx] = j
		f.flags |= hasJourney
	}
	if cs.empty() {
		delete(e.cases, idx)
	} else {
		e.cases[idx] = cs
		f.flags |= hasCase
	}
	*old = f
}

// summarise sets f's Seen and Latest from the cold records of a person.
func summarise(f *Facts, c *cold, j *journey, cs *caseFacts) {
	f.Seen, f.Latest = 0, 0
	if cs.Positive.at != 0 {
		f.saw(seenPositive, cs.Positive.at)
	}
	if cs.OverrideAt != 0 || cs.OverrideUntil != 0 {
		f.saw(seenOverride, max(cs.OverrideAt, cs.OverrideUntil))
	}
	for _, x := range c.exps {
		if fact, ok := x.kind.Fact(); ok {
			f.saw(seenOf(fact), x.at)
		}
	}
	if j == nil {
		return
	}
	if j.declAt != 0 {
		f.flags |= declared
		f.saw(seenJourney, j.declAt)
	}
	for _, a := range j.arrivals {
		if a.At != 0 {
			f.saw(seenJourney, a.At)
		}
	}
	for _, l := range j.legs {
		f.saw(seenJourney, l.arrived)
	}
}
