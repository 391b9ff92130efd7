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

// numStored is the number of facts kept as anchors in Facts.Anchor; the rest
// (arrival_high, arrival_medium, arrival_abroad) are derived from Facts.Arrivals
// and the area table when deciding, so a late area designation applies
// retroactively.
const numStored = int(FactAreaMedium) + 1

// issuedNone marks a person for whom no update has been issued yet.
const issuedNone = 0xFF

// Arrival is a flight arrival from abroad.
type Arrival struct {
	At      Time
	Country [3]byte // ISO 3166-1 alpha-3
	_       byte
	Ref     Ref // the manifest's event id
}

// Facts is what the engine knows about one person: fixed-size and pointer-free.
// Every field is a function of the set of events applied (a latest time, a
// minimum, a bounded top-N, or for exposures the latest live version of each
// exposure id, kept in the cold store: exposures.go), so applying an event
// twice or out of order gives the same facts.
type Facts struct {
	Anchor [numStored]Time // latest anchor time per stored fact
	Ref    [numStored]Ref  // the event behind each anchor (ties: smallest event id)

	Neg  [3]Time // the newest negative PCR sample times within Params.NegativeApart of Neg[0], newest first (the rest of that window is cold: addNegative)
	NegQ Time    // the latest negative PCR at least Params.NegativeApart before Neg[0]

	FirstPositive Time // sample time of the first positive PCR (start of the infectious window)
	FirstReported Time // its reported_at (end of the infectious window)

	Arrivals [2]Arrival // the two latest arrivals from abroad, newest first

	OverrideAt    Time
	OverrideUntil Time
	OverrideRef   Ref
	OverrideText  Ref
	OverrideLevel uint8

	Doses  uint8 // highest vaccine dose recorded
	Issued uint8 // level of the last update issued, issuedNone before the first
	_      uint8

	Version uint32 // version of the last update issued (rises by one per update)
	Hash    uint32 // hash of the last issued colour, reasons and review time
	Review  Time   // next time the decision can change by the clock alone; 0 = none

	Province Time // start of the latest travel stay in a region of the policy's province (return journeys)
}

// later records anchor t for fact f if it is later than the current one; equal
// times keep the smaller event id so that order of arrival does not matter.
func (e *Engine) later(f *Facts, fact Fact, t Time, id string) bool {
	cur := f.Anchor[fact]
	if t < cur || (t == cur && cur != 0 && id >= e.strs.Get(f.Ref[fact])) {
		return false
	}
	f.Anchor[fact] = t
	f.Ref[fact] = e.strs.Put(id)
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
	c := e.cold[idx]
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
		c = e.coldOf(idx)
		c.negs = append(c.negs[:0], keep[3:]...)
	} else if c != nil {
		c.negs = c.negs[:0]
	}
	return true
}

// addArrival records an arrival from abroad, keeping the two latest.
func addArrival(f *Facts, a Arrival) bool {
	for _, x := range f.Arrivals {
		if x.At == a.At && x.Country == a.Country {
			return false
		}
	}
	switch {
	case a.At > f.Arrivals[0].At:
		f.Arrivals[1], f.Arrivals[0] = f.Arrivals[0], a
	case a.At > f.Arrivals[1].At:
		f.Arrivals[1] = a
	default:
		return false
	}
	return true
}
