package scoring

import (
	"cmp"
	"slices"

	"healthcode/scoring/internal/arena"
)

// Ref points at a string (an event id or a reason text) in an engine's string
// arena: offset+1, so that zero means none. Keeping strings out of Facts keeps
// Facts pointer-free, so the garbage collector never scans the state.
type Ref = arena.Ref

// numStored is the number of facts a state record carries as anchors
// (state.go): positive_pcr and suspect, held as anchors (caseFacts.Positive,
// Facts.Suspect), and the five exposure facts, derived from the exposures
// (exposures.go). The rest (arrival_high, arrival_medium, arrival_abroad and
// the journey facts) are derived from the journey record and the area table
// when deciding, so a late area designation applies retroactively.
const numStored = int(FactAreaMedium) + 1

// issuedNone marks a person for whom no update has been issued yet.
const issuedNone = 0xFF

// Facts flags: which cold records a person has (so that most persons, who
// have none, never look one up), whether the journey record holds a
// declaration, and whether the person is in the dirty list.
const (
	hasCold    = 1 << iota // Engine.cold: exposures, window negatives beyond Neg
	hasJourney             // Engine.journeys: flights, arrivals, a return journey
	hasCase                // Engine.cases: a positive PCR or an override
	isDirty                // in Engine.dirty
	declared               // the journey record holds a declaration (journey rows)
)

// Facts.Seen bits: the groups of facts held in cold records that a person has
// ever had an event of. With Facts.Latest they bound what the cold records
// can give a decision (Engine.inert).
const (
	seenPositive   = 1 << iota // positive_pcr
	seenClose                  // close_contact
	seenSecondary              // secondary_contact
	seenCompanion              // companion
	seenAreaHigh               // area_high
	seenAreaMedium             // area_medium
	seenJourney                // the arrival and journey facts (flights, declarations)
	seenOverride               // an official override
)

// seenOf is the Facts.Seen bit of the group of fact f (0 for suspect, held
// in Facts itself).
func seenOf(f Fact) uint8 {
	switch f {
	case FactPositivePCR:
		return seenPositive
	case FactSuspect:
		return 0
	case FactCloseContact:
		return seenClose
	case FactSecondaryContact:
		return seenSecondary
	case FactCompanion:
		return seenCompanion
	case FactAreaHigh:
		return seenAreaHigh
	case FactAreaMedium:
		return seenAreaMedium
	}
	return seenJourney
}

// Arrival is a flight arrival from abroad.
type Arrival struct {
	At      Time
	Country [3]byte // ISO 3166-1 alpha-3
	_       byte
	Ref     Ref // the manifest's event id
}

// Facts is the hot part of what the engine knows about one person, the part
// most events and most decisions read: the key, the negatives, the suspect
// anchor, what was last issued. It is one cache line, fixed-size and
// pointer-free, so that finding a person and deciding on them costs one miss
// past the index. What only some persons have lives in cold records keyed by
// the person's position, looked up only where a flag says the person has one:
// exposures and window negatives beyond Neg (cold, exposures.go), flights,
// arrivals and return journeys (journey, journeystate.go), positive PCRs and
// overrides (caseFacts). Every fact is a function of the set of events
// applied (a latest time, a minimum, a bounded top-N, or for exposures the
// latest live version of each exposure id), so applying an event twice or
// out of order gives the same facts.
type Facts struct {
	Person PersonKey

	Neg  [3]Time // the newest negative PCR sample times within Params.NegativeApart of Neg[0], newest first (the rest of that window is cold: addNegative)
	NegQ Time    // the latest negative PCR at least Params.NegativeApart before Neg[0]

	Suspect    Time // latest positive antigen test or fever declaration (FactSuspect)
	SuspectRef Ref  // its event id (ties: smallest event id)
	Province   Time // start of the latest travel stay in a region of the policy's province (return journeys)

	Version uint32 // version of the last update issued (rises by one per update)
	Hash    uint32 // hash of the last issued colour, reasons and review time
	Review  Time   // next time the decision can change by the clock alone; 0 = none

	Doses  uint8 // highest vaccine dose recorded
	Issued uint8 // level of the last update issued, issuedNone before the first
	flags  uint8

	// Seen and Latest summarise the cold records for deciding without them:
	// Seen has the bit of every group of cold facts the person has had an
	// event of, and Latest is at least every time those events can make an
	// anchor (or an override's end) of. Both only grow; they decide nothing,
	// they only let the engine prove that no rule applies (Engine.inert).
	Seen   uint8
	Latest Time
}

// saw records an event of group g that can make an anchor (or an override's
// end) at t.
func (f *Facts) saw(g uint8, t Time) {
	f.Seen |= g
	f.Latest = max(f.Latest, t)
}

// later records anchor t with evidence id in a if it is later than the
// current one; equal times keep the smaller event id so that order of arrival
// does not matter.
func (e *Engine) later(a *anchor, t Time, id string) bool {
	if t < a.at || (t == a.at && a.at != 0 && id >= e.strs.Get(a.ref)) {
		return false
	}
	a.at, a.ref = t, e.strs.Put(id)
	return true
}

// addNegative records a negative PCR sampled at t (apart is
// Params.NegativeApart). With N the newest negative sample, the facts hold
// exactly:
//
//   - NegQ = max{x : x + apart <= N}, the latest negative at least apart
//     before the newest;
//   - the window W = every negative in (N - apart, N]: Neg[0] = N, Neg[1] and
//     Neg[2] the next two, the rest in the cold store (cold.negs).
//
// Why this suffices, in any arrival order and for any number of negatives:
// a rule needing two negatives after anchor A, the first at or after T =
// A + After (and after A), asks whether some x >= T and some y >= x + apart
// exist. Take y = N (if any pair works, x and N work) and x the latest
// negative with x + apart <= N: the pair exists iff NegQ >= T (testsPass).
// Negatives at least apart before N stay so as N only grows, so only their
// maximum (NegQ) can ever be that x; a negative in W may become it once a
// later N arrives, so W is kept whole and, on a new N, the members that fall
// apart before it are folded into NegQ. A rule needing one negative asks only
// for N. The window holds at most the negatives of one apart-span (24 h): a
// list bounded by how often one person is sampled in a day, three of them
// inline.
func (e *Engine) addNegative(idx uint32, f *Facts, t Time, apart Time) bool {
	if t == 0 || t == f.NegQ || t == f.Neg[0] || t == f.Neg[1] || t == f.Neg[2] {
		return false
	}
	c := e.coldIf(idx, f)
	if c != nil && slices.Contains(c.negs, t) {
		return false
	}
	if n := f.Neg[0]; n != 0 && uint64(t)+uint64(apart) <= uint64(n) {
		if t > f.NegQ {
			f.NegQ = t
			return true
		}
		return false
	}
	var buf [8]Time
	w := append(buf[:0], t)
	for _, x := range f.Neg {
		if x != 0 {
			w = append(w, x)
		}
	}
	if c != nil {
		w = append(w, c.negs...)
	}
	slices.SortFunc(w, func(a, b Time) int { return cmp.Compare(b, a) })
	newest := w[0]
	keep := w[:0]
	for _, x := range w {
		if uint64(x)+uint64(apart) <= uint64(newest) {
			f.NegQ = max(f.NegQ, x)
		} else {
			keep = append(keep, x)
		}
	}
	f.Neg = [3]Time{}
	copy(f.Neg[:], keep)
	if len(keep) > 3 {
		c = e.coldOf(idx, f)
		c.negs = append(c.negs[:0], keep[3:]...)
	} else if c != nil {
		c.negs = c.negs[:0]
	}
	return true
}

// addArrival records an arrival from abroad, keeping the two latest.
func addArrival(as *[2]Arrival, a Arrival) bool {
	for _, x := range as {
		if x.At == a.At && x.Country == a.Country {
			return false
		}
	}
	switch {
	case a.At > as[0].At:
		as[1], as[0] = as[0], a
	case a.At > as[1].At:
		as[1] = a
	default:
		return false
	}
	return true
}
