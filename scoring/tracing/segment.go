package tracing

import (
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

// segment is a batch of presence records, column by column and pointer-free
// apart from its few prefix strings. The segment being filled (see builder) is
// in arrival order; once full it is sealed: sorted by (class, place, start), so
// that a place's presences are one run per class found by binary search, with
// byPerson listing the records in (person, start) order.
type segment struct {
	start    []scoring.Time
	dur      []uint16 // see encodeDur
	loc      []uint32
	person   []uint32
	byPerson []uint16 // sealed only
	idLocal  []uint8  // index in pfx, or idArena
	idNum    []uint32 // number - pfx base, or the Ref of the id in ids
	pfx      []idPrefix
	long     []longEnd   // ends dur cannot hold, by record index
	ids      arena.Arena // event ids that do not split into a known prefix and number
	hours    []uint32    // distinct start hours (Time/3600), sealed only
	classes  []classRun  // sealed only, by class

	minStart, maxStart scoring.Time
	minEnd, midEnd     scoring.Time // midEnd: about half the records end before it
	maxEnd             scoring.Time
	sorted             bool
}

// idPrefix is an event id prefix shared by records of a segment; numbered ids
// store their trailing number as an offset from base (a multiple of 2^31).
type idPrefix struct {
	s    string
	base uint64
	num  bool
}

// A record's class is its place kind and whether it came from a travel
// record (locTable.class). Classes differ in how their stays lie in time:
// check-ins are short and uploaded at once, travel stays are long and
// uploaded up to days late. A sealed segment keeps each class apart with its
// own time bounds, so a join at a venue skips the segments whose check-ins
// cannot overlap, however wide their travel stays are.
type classRun struct {
	class            uint8
	lo, hi           int // records [lo, hi)
	minStart, maxEnd scoring.Time
}

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

type longEnd struct {
	i   uint16
	end scoring.Time
}

// Durations up to 2^15-1 seconds are stored exactly in seconds; longer whole
// minutes (up to about 22 days) as durMinutes+minutes; anything else in long.
const (
	durMinutes = 1 << 15
	durLong    = 0xFFFF
	idArena    = 0xFF
)

func encodeDur(d uint32) (uint16, bool) {
	if d < durMinutes {
		return uint16(d), true
	}
	if d%60 == 0 && d/60 < durLong-durMinutes {
		return uint16(durMinutes + d/60), true
	}
	return durLong, false
}

func (s *segment) n() int { return len(s.start) }

func (s *segment) end(i int) scoring.Time {
	d := s.dur[i]
	switch {
	case d < durMinutes:
		return s.start[i] + scoring.Time(d)
	case d != durLong:
		return s.start[i] + scoring.Time(d-durMinutes)*60
	}
	j := sort.Search(len(s.long), func(j int) bool { return s.long[j].i >= uint16(i) })
	return s.long[j].end
}

func (s *segment) id(i int) string {
	l := s.idLocal[i]
	if l == idArena {
		return s.ids.Get(arena.Ref(s.idNum[i]))
	}
	p := &s.pfx[l]
	if !p.num {
		return p.s
	}
	var buf [64]byte
	return string(strconv.AppendUint(append(buf[:0], p.s...), p.base+uint64(s.idNum[i]), 10))
}

func (s *segment) bytes() int {
	n := cap(s.start)*4 + cap(s.dur)*2 + cap(s.loc)*4 + cap(s.person)*4 + cap(s.byPerson)*2 +
		cap(s.idLocal) + cap(s.idNum)*4 + cap(s.long)*8 + s.ids.Cap() + cap(s.hours)*4 + cap(s.classes)*32 + 200
	for _, p := range s.pfx {
		n += 40 + len(p.s)
	}
	return n
}

// placeRun returns the first record of class run c at place with start >=
// from in a sealed segment, comparing places through locPlace.
func (s *segment) placeRun(locPlace []uint32, c *classRun, place uint32, from scoring.Time) int {
	return c.lo + sort.Search(c.hi-c.lo, func(k int) bool {
		i := c.lo + k
		p := locPlace[s.loc[i]]
		return p > place || (p == place && s.start[i] >= from)
	})
}

// personRun returns the first position in byPerson of person.
func (s *segment) personRun(person uint32) int {
	return sort.Search(len(s.byPerson), func(k int) bool { return s.person[s.byPerson[k]] >= person })
}

// meta recomputes the time bounds, class runs and hours of a sealed segment,
// whose records are in class order (locClass gives a location's class).
func (s *segment) meta(locClass []uint8) {
	n := s.n()
	s.minStart, s.maxStart, s.minEnd, s.maxEnd = scoring.MaxTime, 0, scoring.MaxTime, 0
	step := max(1, n/512)
	sample := make([]scoring.Time, 0, n/step+1)
	var hours []uint32
	var classes []classRun
	last := ^uint32(0)
	for i := 0; i < n; i++ {
		st, e := s.start[i], s.end(i)
		s.minStart, s.maxStart = min(s.minStart, st), max(s.maxStart, st)
		s.minEnd, s.maxEnd = min(s.minEnd, e), max(s.maxEnd, e)
		if c := locClass[s.loc[i]]; len(classes) == 0 || classes[len(classes)-1].class != c {
			classes = append(classes, classRun{class: c, lo: i, hi: i, minStart: scoring.MaxTime})
		}
		r := &classes[len(classes)-1]
		r.hi, r.minStart, r.maxEnd = i+1, min(r.minStart, st), max(r.maxEnd, e)
		if i%step == 0 {
			sample = append(sample, e)
		}
		if h := uint32(st / 3600); h != last {
			last = h
			if j, found := slices.BinarySearch(hours, h); !found {
				hours = slices.Insert(hours, j, h)
			}
		}
	}
	slices.Sort(sample)
	if len(sample) > 0 {
		s.midEnd = sample[len(sample)/2]
	}
	s.hours = slices.Clone(hours)
	s.classes = slices.Clip(classes)
}

// builder fills the unsealed segment: records in arrival order, with a chain per
// place (for the join), a hash table for duplicates and the prefix table.
type builder struct {
	seg       segment
	placeHead map[uint32]uint16 // place -> its latest record, index+1
	placeNext []uint16          // record -> the previous record at its place, index+1
	dup       []uint16          // open addressing over records, index+1
	pfxIndex  map[pfxKey]uint8
}

type pfxKey struct {
	s    string
	num  bool
	base uint64
}

type sortItem struct {
	k uint64
	i uint32
}

func (b *builder) init() {
	b.seg = segment{minStart: scoring.MaxTime, minEnd: scoring.MaxTime}
	b.placeHead = map[uint32]uint16{}
	b.dup = make([]uint16, 64)
	b.pfxIndex = map[pfxKey]uint8{}
}

// reset empties the builder, keeping its buffers.
func (b *builder) reset() {
	s := &b.seg
	*s = segment{start: s.start[:0], dur: s.dur[:0], loc: s.loc[:0], person: s.person[:0],
		idLocal: s.idLocal[:0], idNum: s.idNum[:0], minStart: scoring.MaxTime, minEnd: scoring.MaxTime}
	clear(b.placeHead)
	b.placeNext = b.placeNext[:0]
	clear(b.dup)
	clear(b.pfxIndex)
}

func (b *builder) bytes() int {
	s := &b.seg
	n := cap(s.start)*4 + cap(s.dur)*2 + cap(s.loc)*4 + cap(s.person)*4 + cap(s.idLocal) + cap(s.idNum)*4 +
		cap(s.long)*8 + s.ids.Cap() + len(s.pfx)*40
	return n + len(b.placeHead)*8 + cap(b.placeNext)*2 + cap(b.dup)*2 + len(b.pfxIndex)*48
}

// encodeID returns the id's local prefix index and number in the builder's
// segment, adding a prefix if needed; idArena and 0 when it has no local form yet.
func (b *builder) encodeID(id string, add bool) (uint8, uint32) {
	pre, num, isNum := splitID(id)
	k := pfxKey{s: pre, num: isNum}
	if isNum {
		k.base = num &^ (1<<31 - 1)
	}
	if l, ok := b.pfxIndex[k]; ok {
		return l, uint32(num - k.base)
	}
	if !add || len(b.seg.pfx) >= idArena {
		return idArena, 0
	}
	l := uint8(len(b.seg.pfx))
	b.seg.pfx = append(b.seg.pfx, idPrefix{s: pre, base: k.base, num: isNum})
	b.pfxIndex[k] = l
	return l, uint32(num - k.base)
}

func (b *builder) dupHash(person, place uint32, start, end scoring.Time, id string) uint64 {
	h := mix.Mix64(uint64(person)<<32|uint64(place)) ^ mix.Mix64(uint64(start)<<32|uint64(end)+0x9e37)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 0x100000001b3
	}
	return h
}

// findDup returns whether the builder holds the record.
func (b *builder) findDup(locPlace []uint32, person, place uint32, start, end scoring.Time, id string) bool {
	mask := len(b.dup) - 1
	s := &b.seg
	for i := int(b.dupHash(person, place, start, end, id)) & mask; ; i = (i + 1) & mask {
		r := int(b.dup[i]) - 1
		if r < 0 {
			return false
		}
		if s.person[r] == person && s.start[r] == start && locPlace[s.loc[r]] == place && s.end(r) == end && s.id(r) == id {
			return true
		}
	}
}

// insertDup enters record i (at place, with event id) in the duplicate table,
// growing it to keep it at most half full.
func (b *builder) insertDup(locPlace []uint32, i int, place uint32, id string) {
	if 2*(i+1) > len(b.dup) {
		b.dup = make([]uint16, 2*len(b.dup))
		for r := 0; r < i; r++ {
			b.insertDup(locPlace, r, locPlace[b.seg.loc[r]], b.seg.id(r))
		}
	}
	s := &b.seg
	mask := len(b.dup) - 1
	j := int(b.dupHash(s.person[i], place, s.start[i], s.end(i), id)) & mask
	for b.dup[j] != 0 {
		j = (j + 1) & mask
	}
	b.dup[j] = uint16(i + 1)
}

// add appends a record; the caller has checked that it is not a duplicate and
// that the segment is not full.
func (b *builder) add(locPlace []uint32, person, loc, place uint32, start, end scoring.Time, id string) {
	s := &b.seg
	i := s.n()
	d, ok := encodeDur(uint32(end - start))
	if !ok {
		s.long = append(s.long, longEnd{i: uint16(i), end: end})
	}
	l, num := b.encodeID(id, true)
	if l == idArena {
		num = uint32(s.ids.Put(id))
	}
	s.start = append(s.start, start)
	s.dur = append(s.dur, d)
	s.loc = append(s.loc, loc)
	s.person = append(s.person, person)
	s.idLocal = append(s.idLocal, l)
	s.idNum = append(s.idNum, num)
	s.minStart, s.maxStart = min(s.minStart, start), max(s.maxStart, start)
	s.minEnd, s.maxEnd = min(s.minEnd, end), max(s.maxEnd, end)
	b.placeNext = append(b.placeNext, b.placeHead[place])
	b.placeHead[place] = uint16(i + 1)
	b.insertDup(locPlace, i, place, id)
}

// seal returns the builder's records as a sealed segment with exact-size
// columns, and resets the builder.
func (b *builder) seal(locs *locTable) *segment {
	src := &b.seg
	n := src.n()
	// The sort buffers are transient: a sealed tracer keeps only its records.
	items := make([]sortItem, 0, n)
	radixBuf := make([]sortItem, n)
	ends := make([]scoring.Time, 0, n)
	for i := 0; i < n; i++ {
		items = append(items, sortItem{k: uint64(locs.place[src.loc[i]])<<32 | uint64(src.start[i]), i: uint32(i)})
	}
	radixSort(items, radixBuf)
	// Then by class, keeping the (place, start) order within each.
	var count [numClasses + 1]int
	for _, it := range items {
		count[locs.class[src.loc[it.i]]+1]++
	}
	for c := 1; c <= numClasses; c++ {
		count[c] += count[c-1]
	}
	for _, it := range items {
		c := locs.class[src.loc[it.i]]
		radixBuf[count[c]] = it
		count[c]++
	}
	items, radixBuf = radixBuf[:n], items[:n]
	for i := 0; i < n; i++ {
		ends = append(ends, src.end(i))
	}
	s := &segment{
		start: make([]scoring.Time, n), dur: make([]uint16, n), loc: make([]uint32, n), person: make([]uint32, n),
		idLocal: make([]uint8, n), idNum: make([]uint32, n), byPerson: make([]uint16, n),
		pfx: slices.Clip(src.pfx), ids: src.ids, sorted: true,
	}
	for j, it := range items {
		i := it.i
		s.start[j], s.dur[j], s.loc[j], s.person[j] = src.start[i], src.dur[i], src.loc[i], src.person[i]
		s.idLocal[j], s.idNum[j] = src.idLocal[i], src.idNum[i]
		if s.dur[j] == durLong {
			s.long = append(s.long, longEnd{i: uint16(j), end: ends[i]})
		}
	}
	s.ids.Clip()
	s.long = slices.Clip(s.long)
	items = items[:0]
	for j := 0; j < n; j++ {
		items = append(items, sortItem{k: uint64(s.person[j])<<32 | uint64(s.start[j]), i: uint32(j)})
	}
	radixSort(items, radixBuf)
	for k, it := range items {
		s.byPerson[k] = uint16(it.i)
	}
	s.meta(locs.class)
	// The prefix table and id arena now belong to s.
	b.seg.pfx, b.seg.ids = nil, arena.Arena{}
	b.reset()
	return s
}

// filter returns a sealed copy of s without the records drop reports (which it
// is told of once each), or nil when none is left.
func (s *segment) filter(locClass []uint8, drop func(i int) bool) *segment {
	n := s.n()
	remap := make([]int32, n) // old index -> new, -1 when dropped
	kept := 0
	for i := 0; i < n; i++ {
		if drop(i) {
			remap[i] = -1
			continue
		}
		remap[i] = int32(kept)
		kept++
	}
	if kept == 0 {
		return nil
	}
	f := &segment{
		start: make([]scoring.Time, 0, kept), dur: make([]uint16, 0, kept), loc: make([]uint32, 0, kept),
		person: make([]uint32, 0, kept), idLocal: make([]uint8, 0, kept), idNum: make([]uint32, 0, kept),
		byPerson: make([]uint16, 0, kept), pfx: s.pfx, sorted: true,
	}
	for i := 0; i < n; i++ {
		if remap[i] < 0 {
			continue
		}
		f.start = append(f.start, s.start[i])
		f.dur = append(f.dur, s.dur[i])
		f.loc = append(f.loc, s.loc[i])
		f.person = append(f.person, s.person[i])
		f.idLocal = append(f.idLocal, s.idLocal[i])
		num := s.idNum[i]
		if s.idLocal[i] == idArena {
			num = uint32(f.ids.Put(s.ids.Get(arena.Ref(num))))
		}
		f.idNum = append(f.idNum, num)
		if s.dur[i] == durLong {
			f.long = append(f.long, longEnd{i: uint16(remap[i]), end: s.end(i)})
		}
	}
	for _, i := range s.byPerson {
		if r := remap[i]; r >= 0 {
			f.byPerson = append(f.byPerson, uint16(r))
		}
	}
	f.ids.Clip()
	f.long = slices.Clip(f.long)
	f.meta(locClass)
	return f
}

// radixSort sorts items by k, then by i (items arrive in i order and the sort
// is stable): least significant byte first, skipping bytes that are all equal.
// buf is scratch space of at least len(items).
func radixSort(items, buf []sortItem) {
	if len(items) < 2 {
		return
	}
	src, dst := items, buf[:len(items)]
	var diff uint64
	first := items[0].k
	for _, it := range items {
		diff |= it.k ^ first
	}
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xFF == 0 {
			continue
		}
		var count [257]int
		for _, it := range src {
			count[(it.k>>shift)&0xFF+1]++
		}
		for b := 1; b < 257; b++ {
			count[b] += count[b-1]
		}
		for _, it := range src {
			b := (it.k >> shift) & 0xFF
			dst[count[b]] = it
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}
