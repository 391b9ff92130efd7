package scoring

import "healthcode/internal/arena"

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
// Every field is monotone (a latest time, a minimum, a bounded top-N), so applying
// an event twice or out of order gives the same facts.
type Facts struct {
	Anchor [numStored]Time // latest anchor time per stored fact
	Ref    [numStored]Ref  // the event behind each anchor (ties: smallest event id)

	Neg  [3]Time // the three latest distinct negative PCR sample times, newest first
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

// addNegative records a negative PCR sampled at t. It keeps the three latest
// distinct sample times and NegQ, the latest sample at least apart before the
// newest one; "two negative PCRs sampled after A, at least apart apart" then
// holds exactly when NegQ > A. (Only with four or more negatives inside one
// apart-window can NegQ come out earlier than exact, in any arrival order:
// a rule then clears late, never early.)
func addNegative(f *Facts, t Time, apart Time) bool {
	for _, n := range f.Neg {
		if n == t {
			return false
		}
	}
	if t == f.NegQ {
		return false
	}
	// A copy of a negative that has already fallen out of the top three
	// changes nothing: report it as unchanged (no state record, no update).
	neg, negQ := f.Neg, f.NegQ
	// Insert t into the top three; dropped is what falls out.
	dropped := t
	for i := range f.Neg {
		if dropped > f.Neg[i] {
			f.Neg[i], dropped = dropped, f.Neg[i]
		}
	}
	newest := f.Neg[0]
	cand := []Time{dropped, f.Neg[1], f.Neg[2]}
	for _, c := range cand {
		if c != 0 && c+apart <= newest && c > f.NegQ {
			f.NegQ = c
		}
	}
	return f.Neg != neg || f.NegQ != negQ
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
