package scoring

import (
	"fmt"
	"math"

	"healthcode/scoring/internal/arena"
)

// EngineOptions configure an Engine. The zero value is valid.
type EngineOptions struct {
	// People pre-sizes the state for this many persons. Default 1024.
	People int
	// CompactAt is the string-arena size in bytes at which unreferenced strings
	// are dropped. Default 256 MiB; the arena is compacted again only once it has
	// doubled from its live size.
	CompactAt int
	// EventTime decides each event as of its own time (the event clock's
	// mode) instead of the now Apply is given: see decisionTime.
	EventTime bool
}

func (o *EngineOptions) setDefaults() {
	if o.People <= 0 {
		o.People = 1024
	}
	if o.CompactAt <= 0 {
		o.CompactAt = 256 << 20
	}
}

// Engine owns the facts, decisions and timers of the persons of one partition.
// It is not safe for concurrent use: one goroutine owns one engine.
type Engine struct {
	opts   EngineOptions
	policy *Policy
	areas  *Areas

	index personIndex // person -> position in facts
	facts []Facts     // the hot facts of each person, by position (facts.go)
	// decided is, by position, the time of the person's latest decision
	// (of a colour or a journey row, whether or not it issued anything): a
	// decision is never taken before it (decisionTime). Apart from facts,
	// which it would push past one cache line; only deciding reads it, and
	// only with EngineOptions.EventTime: without it, it stays empty.
	decided []Time
	strs    arena.Arena

	// The cold records, by position, of the persons whose Facts.flags say
	// they have one.
	cold     map[uint32]*cold      // persons with exposures or many recent negatives (exposures.go)
	journeys map[uint32]*journey   // persons who declared a return journey or flew (journeystate.go)
	cases    map[uint32]*caseFacts // persons with a positive PCR or an override (facts.go)

	timers   timerHeap
	abroad   map[[3]byte][]uint32 // persons with an arrival from that country (for retroactive designations)
	jout     []JourneyUpdate      // journey rows issued since TakeJourneys
	marks    []Mark               // marks raised since TakeMarks
	dirty    []uint32             // persons whose state changed since TakeDirty
	buf      []Active
	hash0    uint32 // hashOf the decision of no rule and no review
	nextComp int
}

// NewEngine returns an engine deciding with policy p.
func NewEngine(p *Policy, o EngineOptions) *Engine {
	o.setDefaults()
	e := &Engine{
		opts:     o,
		policy:   p,
		areas:    NewAreas(),
		index:    newPersonIndex(o.People),
		facts:    make([]Facts, 0, o.People),
		abroad:   map[[3]byte][]uint32{},
		cold:     map[uint32]*cold{},
		journeys: map[uint32]*journey{},
		cases:    map[uint32]*caseFacts{},
		nextComp: o.CompactAt,
	}
	e.hash0 = e.hashOf(&person{}, &Decision{})
	if o.EventTime {
		e.decided = make([]Time, 0, o.People)
	}
	return e
}

// Policy returns the policy in use.
func (e *Engine) Policy() *Policy { return e.policy }

// Len is the number of persons held.
func (e *Engine) Len() int { return len(e.facts) }

// Update is a colour decision to publish: issued when the colour, the reasons or
// the review time of a person change.
type Update struct {
	Person    PersonKey
	Level     uint8
	Previous  int // previous level, -1 on a person's first update
	Version   uint32
	Effective Time
	Review    Time
	Reasons   []Reason
	// DeclarationRequired: the policy issues no code before a return-journey
	// declaration and the person has none (code_status "declaration_required").
	DeclarationRequired bool
}

// Reason is one active rule behind an update's colour.
type Reason struct {
	Rule     *Rule  // nil for an official override
	Text     string // the officer's reason, for an override
	Until    Time
	Evidence []string
}

// RuleID returns the rule's id ("override" for an official override).
func (r *Reason) RuleID() string {
	if r.Rule == nil {
		return "override"
	}
	return r.Rule.ID
}

func (e *Engine) lookupOrAdd(k *PersonKey) uint32 {
	if idx, ok := e.index.get(k, e.facts); ok {
		return idx
	}
	if len(e.facts) >= math.MaxUint32 {
		panic("scoring: more than 2^32 persons in one partition")
	}
	idx := uint32(len(e.facts))
	e.facts = append(e.facts, Facts{Person: *k, Issued: issuedNone})
	if e.opts.EventTime {
		e.decided = append(e.decided, 0)
	}
	e.index.put(k, idx, e.facts)
	return idx
}

func (e *Engine) markDirty(idx uint32) {
	if f := &e.facts[idx]; f.flags&isDirty == 0 {
		f.flags |= isDirty
		e.dirty = append(e.dirty, idx)
	}
}

// Apply records one person event and appends the update it causes, if any, as
// decided at now. Applying an event twice, or events out of order, leaves the
// same facts; for exposures, the versions of one exposure id are applied in
// version order (a lower or equal version than the one applied changes
// nothing). KindTick and KindArea events carry no person: use Advance and AddDesignation.
func (e *Engine) Apply(ev *Event, now Time, out []Update) ([]Update, error) {
	if !ev.Kind.Valid() || ev.Kind == KindTick || ev.Kind == KindArea {
		return out, fmt.Errorf("%w: kind %v", ErrBadEvent, ev.Kind)
	}
	if ev.Person == (PersonKey{}) || (ev.At == 0 && !(ev.Kind == KindExposure && ev.Retracted)) {
		return out, fmt.Errorf("%w: %v event %q without person or time", ErrBadEvent, ev.Kind, ev.ID)
	}
	if ev.Kind == KindJourney {
		if _, err := ev.Journey(); err != nil {
			return out, fmt.Errorf("%w: %v", ErrBadEvent, err)
		}
	}
	if ev.Kind == KindOverride && int(ev.Level) >= len(e.policy.Colours) {
		return out, fmt.Errorf("%w: override %q to level %d, policy %s has %d colours",
			ErrBadEvent, ev.ID, ev.Level, e.policy.Stamp(), len(e.policy.Colours))
	}
	// A close contact's own close contacts, from the exposure to the case's
	// report, are secondary contacts. Every close exposure raises its own mark
	// (its window and case differ), even when an earlier one already set the
	// fact; a new version of it replaces or retracts that mark.
	var cm *Mark
	if ev.Kind == KindExposure {
		closeMark, marks, err := CloseMark(ev)
		if err != nil {
			return out, fmt.Errorf("%w: exposure %q: %v", ErrBadEvent, ev.ID, err)
		}
		if marks {
			cm = &closeMark
		}
	}
	idx := e.lookupOrAdd(&ev.Person)
	now, out = e.decisionTime(idx, ev, now, out)
	f := &e.facts[idx]
	changed := e.applyFacts(idx, f, ev, now, cm)
	if !changed && f.Issued != issuedNone && (f.Review == 0 || now < f.Review) {
		// Same facts, and no rule can have changed by the clock since the
		// last decision (Review is the earliest such time): the decision is
		// the one already issued. Most check-ins end here.
		return out, nil
	}
	if changed {
		e.markDirty(idx)
		if ev.Kind == KindArrival && len(ev.Country) == 3 {
			c := [3]byte([]byte(ev.Country))
			e.abroad[c] = append(e.abroad[c], idx)
		}
	}
	out = e.reconsider(idx, now, now, out)
	e.maybeCompact()
	return out, nil
}

// applyFacts folds ev into f (person idx) and reports whether f changed. cm
// is the close mark of a close-contact exposure.
func (e *Engine) applyFacts(idx uint32, f *Facts, ev *Event, now Time, cm *Mark) bool {
	p := &e.policy.Params
	switch ev.Kind {
	case KindTest:
		switch {
		case TestKind(ev.Sub) == TestPCR && ev.Result == ResultPositive:
			f.saw(seenPositive, ev.At)
			cs := e.caseOf(idx, f)
			changed := e.later(&cs.Positive, ev.At, ev.ID)
			if cs.FirstPositive == 0 || ev.At < cs.FirstPositive ||
				(ev.At == cs.FirstPositive && ev.End != 0 && ev.End < cs.FirstReported) {
				cs.FirstPositive, cs.FirstReported = ev.At, ev.End
				changed = true
				// The person is a case: their presences over the infectious
				// window are dangerous (contact tracing).
				e.marks = append(e.marks, CaseMark(ev.Person, cs.FirstPositive, cs.FirstReported, ev.ID, e.policy))
			}
			return changed
		case TestKind(ev.Sub) == TestPCR && ev.Result == ResultNegative:
			return e.addNegative(idx, f, ev.At, Time(p.NegativeApart.Std().Seconds()))
		case TestKind(ev.Sub) == TestAntigen && ev.Result == ResultPositive:
			return e.laterSuspect(f, ev)
		}
	case KindDeclaration:
		fever := ev.Symptoms&SymptomFever != 0 ||
			(ev.TempDeci != 0 && int(ev.TempDeci) >= int(math.Round(p.FeverCelsius*10)))
		if fever {
			return e.laterSuspect(f, ev)
		}
	case KindArrival:
		f.saw(seenJourney, ev.At)
		changed := e.addLeg(idx, f, ev)
		if len(ev.Country) != 3 || ev.Country == "CHN" {
			return changed
		}
		j := e.journeyOf(idx, f)
		return addArrival(&j.arrivals, Arrival{At: ev.At, Country: [3]byte([]byte(ev.Country)), Ref: e.strs.Put(ev.ID)}) || changed
	case KindJourney:
		f.saw(seenJourney, ev.At)
		return e.applyJourney(idx, f, ev)
	case KindTravel:
		if !e.policy.Journeys.inProvince(ev.Place) {
			return false
		}
		changed := e.addProvince(idx, f, ev.At)
		if ev.At > f.Province {
			f.Province = ev.At
			changed = true
		}
		return changed
	case KindCheckin:
		return e.addProvince(idx, f, ev.At)
	case KindVaccination:
		if ev.Dose > f.Doses {
			f.Doses = ev.Dose
			return true
		}
	case KindOverride:
		f.saw(seenOverride, max(ev.At, ev.End))
		var cs *caseFacts
		if f.flags&hasCase != 0 {
			cs = e.cases[idx]
			if ev.At < cs.OverrideAt || (ev.At == cs.OverrideAt && ev.ID >= e.strs.Get(cs.OverrideRef)) {
				return false
			}
		} else {
			cs = e.caseOf(idx, f)
		}
		cs.OverrideAt, cs.OverrideUntil, cs.OverrideLevel = ev.At, ev.End, ev.Level
		cs.OverrideRef, cs.OverrideText = e.strs.Put(ev.ID), e.strs.Put(ev.Text)
		return true
	case KindExposure:
		return e.applyExposure(idx, f, ev, now, cm)
	}
	// Check-ins and travel stays set no fact here: area risk has one home, the
	// tracer, which matches every counted stay with every designation in
	// either order, and takes an exposure back when a designation is replaced
	// (an area-risk exposure event).
	return false
}

// laterSuspect records ev (a positive antigen test or a fever) as the suspect
// anchor if it is the latest.
func (e *Engine) laterSuspect(f *Facts, ev *Event) bool {
	a := anchor{at: f.Suspect, ref: f.SuspectRef}
	if !e.later(&a, ev.At, ev.ID) {
		return false
	}
	f.Suspect, f.SuspectRef = a.at, a.ref
	return true
}

// Decide returns the decision for a person at now without changing anything
// (for explanation and tests). ok is false for a person never seen.
func (e *Engine) Decide(k PersonKey, now Time) (d Decision, f Facts, ok bool) {
	idx, ok := e.index.get(&k, e.facts)
	if !ok {
		return Decision{}, Facts{}, false
	}
	ps := e.person(idx)
	return e.decide(&ps, now, nil), *ps.f, true
}

// Evidence resolves a Ref from a Decision of this engine.
func (e *Engine) Evidence(r Ref) string { return e.strs.Get(r) }

// TakeDirty returns the persons whose state changed since the last call, for
// the state changelog, and resets the list.
func (e *Engine) TakeDirty() []PersonKey {
	out := make([]PersonKey, len(e.dirty))
	for i, idx := range e.dirty {
		f := &e.facts[idx]
		out[i] = f.Person
		f.flags &^= isDirty
	}
	e.dirty = e.dirty[:0]
	return out
}

// TakeMarks returns the marks raised since the last call (persons whose
// presences became dangerous: new cases, and close contacts), for the
// contact-tracing stage.
func (e *Engine) TakeMarks() []Mark {
	m := e.marks
	e.marks = nil
	return m
}
