package tracing

import (
	"time"
	"unsafe"

	"healthcode/scoring"
)

// Options configure a Tracer. The zero value is valid.
type Options struct {
	// Expected is the number of presences to pre-size for; default 0 (grow as
	// needed).
	Expected int
}

// Tracer is the contact-tracing join of one place partition: an index of who
// was where and when, the marks and designations it knows, and what it last
// emitted of each exposure identity (identity.go): a new version is emitted
// only when the exposure's value changes, and a retraction when nothing gives
// it any more.
//
// Memory: presences are kept in segments of up to 65,535 records,
// pointer-free. The segment being filled holds them column by column; once
// full it is sealed: sorted by (class, place, start) and packed, each class
// run at a fixed width with every field (location, person, start, duration,
// event id as a per-segment prefix and number) in the bits its range within
// the run needs (segment.go), with a 16-bit person-order permutation and a
// Bloom filter of its persons. At 50 million presences (2.5 million people) a
// check-in's record takes 83 bits, and bench/trace_test.go measures about 15
// bytes a presence with the tables of people, places and locations.
type Tracer struct {
	closeOverlap, companionOverlap, lookback uint32 // seconds
	closeRows                                int
	companionRes                             int
	params                                   scoring.Params // the stay rules (Params.CountsForArea)

	people    personTable
	places    placeTable
	locs      locTable
	areas     *scoring.Areas
	segs      []*segment            // sealed, oldest first
	byHour    map[uint32][]*segment // sealed segments holding a start in that hour
	act       [2]builder            // the segments being filled: of check-ins and flights, of travel stays (stream)
	cutoff    scoring.Time          // presences ending before this are expired
	marks     map[scoring.PersonKey][]scoring.Mark
	hot       map[uint32][]hotStay       // place -> presences of marked people there
	hotPeople map[scoring.PersonKey]bool // marked persons whose presences are all in hot
	emitted   map[uint64]emitRec         // exposure identity (first 8 bytes of its id) -> what was last emitted
	swept     scoring.Time               // cutoff at the last sweep of emitted
	held      int                        // presences held in sealed segments
	version   uint64                     // of the current operation's exposures (SetVersion)
	pend      []pending                  // identities met by the current operation
	pendIdx   map[uint64]int
}

// hotStay is a presence of a marked person at a contact place, kept so that a
// presence arriving later at that place is matched at once.
type hotStay struct {
	stay
	key scoring.PersonKey
}

// New returns an empty tracer for policy p (already validated).
func New(p *scoring.Policy, o Options) *Tracer {
	sec := func(d scoring.Duration) uint32 { return uint32(d.Std() / time.Second) }
	t := &Tracer{
		closeOverlap:     sec(p.Contacts.CloseOverlap),
		companionOverlap: sec(p.Contacts.CompanionOverlap),
		params:           p.Params,
		lookback:         sec(p.Contacts.Lookback),
		closeRows:        p.Contacts.CloseRows,
		companionRes:     p.Contacts.CompanionH3Res,
		areas:            scoring.NewAreas(),
		byHour:           map[uint32][]*segment{},
		marks:            map[scoring.PersonKey][]scoring.Mark{},
		hot:              map[uint32][]hotStay{},
		hotPeople:        map[scoring.PersonKey]bool{},
		emitted:          map[uint64]emitRec{},
		pendIdx:          map[uint64]int{},
	}
	if o.Expected > 0 {
		// About 20 presences per person and 250 per location in a partition.
		t.people.init(o.Expected / 20)
		t.segs = make([]*segment, 0, o.Expected/segCap+1)
	}
	for i := range t.act {
		t.act[i].init()
	}
	return t
}

// Len is the number of presences held. Expired presences never match after
// Expire; their memory is reclaimed in bulk (a whole segment once all of it has
// expired, or a rewrite once half of it has).
func (t *Tracer) Len() int { return t.held + t.act[0].c.n() + t.act[1].c.n() }

// Bytes is the memory held by the index: presence columns, event ids, the
// tables of people, places and locations, marks and emitted exposures. Go map
// overheads are estimated.
func (t *Tracer) Bytes() int {
	n := t.act[0].bytes() + t.act[1].bytes() + t.people.bytes() + t.places.bytes() + t.locs.bytes()
	for _, s := range t.segs {
		n += s.bytes()
	}
	n += len(t.byHour) * 48
	for _, l := range t.byHour {
		n += cap(l) * 8
	}
	for _, l := range t.marks {
		n += 48 + cap(l)*int(unsafe.Sizeof(scoring.Mark{}))
	}
	for _, l := range t.hot {
		n += 48 + cap(l)*int(unsafe.Sizeof(hotStay{}))
	}
	n += len(t.emitted)*32 + len(t.hotPeople)*32
	return n
}
