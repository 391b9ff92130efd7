package tracing

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"healthcode/scoring"
	"healthcode/scoring/internal/arena"
	"healthcode/scoring/internal/mix"
)

// segCap is the number of records in a full segment: record indices fit in 16
// bits, and index+1 too.
const segCap = 1<<16 - 1

// segment is a sealed batch of up to segCap presence records, pointer-free
// apart from its few prefix strings. Its records are sorted by (class, place,
// start), so that a place's presences are one run per class found by binary
// search, and byPerson lists them in (person, start) order. Each class run
// packs its records at a fixed width, every field in the bits its range within
// the run needs (classRun): at 50 million presences a record of a check-in
// takes about 11 bytes, and all of it is in one or two cache lines.
type segment struct {
	recs     []byte // the records, run after run, then 8 bytes of padding
	byPerson []uint16
	persons  []uint64   // a Bloom filter of the persons of its records (mayHold)
	classes  []classRun // by class
	pfx      []idPrefix
	ids      arena.Arena // event ids that do not split into a prefix of pfx and a number
	hours    []uint32    // distinct start hours (Time/3600)
	count    int

	minStart, maxStart scoring.Time
	minEnd, midEnd     scoring.Time // midEnd: about half the records end before it
	maxEnd             scoring.Time
}

// idPrefix is an event id prefix shared by records of a segment; numbered ids
// store their trailing number as an offset from base.
type idPrefix struct {
	s    string
	base uint64
	num  bool
}

// idArena is the prefix index of an id kept whole in the segment's arena.
const idArena = 0xFF

// A record's class is its place kind and whether it came from a travel
// record (locTable.class). Classes differ in how their stays lie in time:
// check-ins are short and uploaded at once, travel stays are long and
// uploaded up to days late. A sealed segment keeps each class apart with its
// own time bounds, so a join at a venue skips the segments whose check-ins
// cannot overlap, however wide their travel stays are.
func locClass(k PlaceKind, vari uint64) uint8 {
	c := uint8(k) << 1
	if k != PlaceFlight && vari&locTravel != 0 {
		c |= 1
	}
	return c
}

func classKind(c uint8) PlaceKind { return PlaceKind(c >> 1) }

// Classes are below 16: PlaceKind is at most PlaceFlight (4).
const numClasses = 16

// The fields of a packed record, in bit order. Each is stored as its value
// less the run's base of it.
const (
	fLoc    = iota
	fPerson // person table index
	fStart
	fDur // end - start
	fPfx // index in pfx, or idArena
	fNum // id number - its prefix's base, or the Ref of the id in ids
	numFields
)

// classRun is the records [lo, hi) of one class in a sealed segment, packed
// at width bits each from bit in recs, with the time bounds of their stays.
type classRun struct {
	class            uint8
	off              [numFields]uint8 // bit offset of each field in a record
	lo, hi, bit      int
	width            int
	mask             [numFields]uint32 // 1<<bits of the field - 1
	base             [numFields]uint32
	minStart, maxEnd scoring.Time
}

// field reads field f of record i (lo <= i < hi). A field has at most 32 bits
// and starts at most 7 bits into the 8 bytes read.
func (c *classRun) field(recs []byte, i, f int) uint32 {
	b := c.bit + (i-c.lo)*c.width + int(c.off[f])
	return c.base[f] + uint32(binary.LittleEndian.Uint64(recs[b>>3:])>>(b&7))&c.mask[f]
}

// rec is a record as the join reads it.
type rec struct {
	loc, person uint32
	start, end  scoring.Time
}

func (s *segment) rec(c *classRun, i int) rec {
	st := scoring.Time(c.field(s.recs, i, fStart))
	return rec{loc: c.field(s.recs, i, fLoc), person: c.field(s.recs, i, fPerson), start: st,
		end: st + scoring.Time(c.field(s.recs, i, fDur))}
}

func (s *segment) n() int { return s.count }

// run returns the class run holding record i.
func (s *segment) run(i int) *classRun {
	for k := range s.classes {
		if i < s.classes[k].hi {
			return &s.classes[k]
		}
	}
	panic("tracing: record beyond its segment")
}

func (s *segment) id(i int) string {
	c := s.run(i)
	l, num := c.field(s.recs, i, fPfx), c.field(s.recs, i, fNum)
	if l == idArena {
		return s.ids.Get(arena.Ref(num))
	}
	p := &s.pfx[l]
	if !p.num {
		return p.s
	}
	var buf [64]byte
	return string(strconv.AppendUint(append(buf[:0], p.s...), p.base+uint64(num), 10))
}

func (s *segment) bytes() int {
	n := cap(s.recs) + cap(s.byPerson)*2 + cap(s.persons)*8 + cap(s.classes)*128 + s.ids.Cap() + cap(s.hours)*4 + 200
	for _, p := range s.pfx {
		n += 40 + len(p.s)
	}
	return n
}

// placeRun returns the first record of class run c at place with start >=
// from, comparing places through locPlace.
func (s *segment) placeRun(locPlace []uint32, c *classRun, place uint32, from scoring.Time) int {
	return c.lo + sort.Search(c.hi-c.lo, func(k int) bool {
		i := c.lo + k
		p := locPlace[c.field(s.recs, i, fLoc)]
		return p > place || (p == place && scoring.Time(c.field(s.recs, i, fStart)) >= from)
	})
}

// The persons filter is blocked: each person sets bloomK bits of one 64-bit
// word, with bloomBits bits of filter for each distinct person. A segment
// holds about 33,000 people of 2.5 million at 50 million presences, and a
// person's presences are in a few dozen of the 760 segments: the filter
// (0.4 bytes a record) spares the person search in about 9 in 10 of the rest.
const (
	bloomK    = 3
	bloomBits = 6
)

func bloomHash(person uint32) uint64 { return mix.Mix64(uint64(person) + 0x9e3779b97f4a7c15) }

// bloomAt returns the word of hash h in a filter of n words and its bits.
func bloomAt(h uint64, n int) (int, uint64) {
	var m uint64
	for k := 0; k < bloomK; k++ {
		m |= 1 << (h >> (6 * k) & 63)
	}
	return int((h >> 32) * uint64(n) >> 32), m
}

// mayHold reports whether the segment may hold a record of person (it does
// not when false).
func (s *segment) mayHold(person uint32) bool {
	w, m := bloomAt(bloomHash(person), len(s.persons))
	return s.persons[w]&m == m
}

// personRun returns the first position in byPerson of person.
func (s *segment) personRun(person uint32) int {
	return sort.Search(len(s.byPerson), func(k int) bool {
		i := int(s.byPerson[k])
		return s.run(i).field(s.recs, i, fPerson) >= person
	})
}

// pack returns the records of c in the given order, which sorts them by
// (class, place, start), as a sealed segment with a prefix table and arena of
// its own. locClass gives a location's class.
func pack(c *cols, order []uint32, locClass []uint8) *segment {
	n := len(order)
	s := &segment{count: n, minStart: scoring.MaxTime, minEnd: scoring.MaxTime}
	// Prefixes: keep those used, each based at its smallest number.
	minNum := make([]uint32, len(c.pfx))
	code := make([]uint8, len(c.pfx))
	for l := range minNum {
		minNum[l] = ^uint32(0)
	}
	for _, i := range order {
		if l := c.idLocal[i]; l != idArena {
			minNum[l] = min(minNum[l], c.idNum[i])
		}
	}
	for l, m := range minNum {
		if m != ^uint32(0) {
			p := c.pfx[l]
			if p.num {
				p.base += uint64(m)
			}
			code[l] = uint8(len(s.pfx))
			s.pfx = append(s.pfx, p)
		}
	}
	s.pfx = slices.Clip(s.pfx)
	// The field values, then the runs' bases and widths.
	vals := make([][numFields]uint32, n)
	for j, i := range order {
		v := &vals[j]
		v[fLoc], v[fPerson], v[fStart], v[fDur] = c.loc[i], c.person[i], uint32(c.start[i]), uint32(c.end[i]-c.start[i])
		if l := c.idLocal[i]; l == idArena {
			v[fPfx], v[fNum] = idArena, uint32(s.ids.Put(c.ids.Get(arena.Ref(c.idNum[i]))))
		} else {
			v[fPfx], v[fNum] = uint32(code[l]), c.idNum[i]-minNum[l]
		}
	}
	s.ids.Clip()
	bit := 0
	for j := 0; j < n; {
		cl := locClass[vals[j][fLoc]]
		r := classRun{class: cl, lo: j, bit: bit, minStart: scoring.MaxTime}
		var hi [numFields]uint32
		r.base = vals[j]
		for ; j < n && locClass[vals[j][fLoc]] == cl; j++ {
			for f, x := range vals[j] {
				r.base[f], hi[f] = min(r.base[f], x), max(hi[f], x)
			}
			st := scoring.Time(vals[j][fStart])
			r.minStart, r.maxEnd = min(r.minStart, st), max(r.maxEnd, st+scoring.Time(vals[j][fDur]))
		}
		r.hi = j
		for f := range numFields {
			w := bits.Len32(hi[f] - r.base[f])
			r.off[f], r.mask[f] = uint8(r.width), uint32(1<<w-1)
			r.width += w
		}
		bit += (r.hi - r.lo) * r.width
		s.classes = append(s.classes, r)
	}
	s.classes = slices.Clip(s.classes)
	s.recs = make([]byte, (bit+7)/8+8)
	for k := range s.classes {
		r := &s.classes[k]
		for j := r.lo; j < r.hi; j++ {
			b := r.bit + (j-r.lo)*r.width
			for f, x := range vals[j] {
				at := b + int(r.off[f])
				w := binary.LittleEndian.Uint64(s.recs[at>>3:]) | uint64(x-r.base[f])<<(at&7)
				binary.LittleEndian.PutUint64(s.recs[at>>3:], w)
			}
		}
	}
	s.meta(vals)
	return s
}

// meta sets the time bounds, the hours and byPerson of a packed segment from
// its field values.
func (s *segment) meta(vals [][numFields]uint32) {
	n := len(vals)
	step := max(1, n/512)
	sample := make([]scoring.Time, 0, n/step+1)
	items := make([]sortItem, n)
	last := ^uint32(0)
	for j := range vals {
		st := scoring.Time(vals[j][fStart])
		e := st + scoring.Time(vals[j][fDur])
		s.minStart, s.maxStart = min(s.minStart, st), max(s.maxStart, st)
		s.minEnd, s.maxEnd = min(s.minEnd, e), max(s.maxEnd, e)
		if j%step == 0 {
			sample = append(sample, e)
		}
		if h := uint32(st / 3600); h != last {
			last = h
			if k, found := slices.BinarySearch(s.hours, h); !found {
				s.hours = slices.Insert(s.hours, k, h)
			}
		}
		items[j] = sortItem{k: uint64(vals[j][fPerson])<<32 | uint64(st), i: uint32(j)}
	}
	slices.Sort(sample)
	if len(sample) > 0 {
		s.midEnd = sample[len(sample)/2]
	}
	s.hours = slices.Clip(s.hours)
	radixSort(items, make([]sortItem, n))
	s.byPerson = make([]uint16, n)
	distinct := 0
	for k, it := range items {
		s.byPerson[k] = uint16(it.i)
		if k == 0 || it.k>>32 != items[k-1].k>>32 {
			distinct++
		}
	}
	s.persons = make([]uint64, max(1, (distinct*bloomBits+63)/64))
	for k, it := range items {
		if k == 0 || it.k>>32 != items[k-1].k>>32 {
			w, m := bloomAt(bloomHash(uint32(it.k>>32)), len(s.persons))
			s.persons[w] |= m
		}
	}
}

// filter returns a sealed copy of s without the records drop reports (which it
// is told of once each), or nil when none is left.
func (s *segment) filter(locClass []uint8, drop func(r *rec) bool) *segment {
	c := cols{pfx: s.pfx, ids: s.ids}
	for k := range s.classes {
		run := &s.classes[k]
		for i := run.lo; i < run.hi; i++ {
			r := s.rec(run, i)
			if drop(&r) {
				continue
			}
			c.add(r.loc, r.person, r.start, r.end, uint8(run.field(s.recs, i, fPfx)), run.field(s.recs, i, fNum))
		}
	}
	if c.n() == 0 {
		return nil
	}
	order := make([]uint32, c.n())
	for i := range order {
		order[i] = uint32(i)
	}
	return pack(&c, order, locClass)
}
