package tracing

import (
	"strconv"

	"healthcode/scoring"
	"healthcode/scoring/internal/arena"
	"healthcode/scoring/internal/mix"
)

// cols is presence records column by column: those of the segment being
// filled, and records on their way into a sealed segment (pack).
type cols struct {
	start, end  []scoring.Time
	loc, person []uint32
	idLocal     []uint8  // index in pfx, or idArena
	idNum       []uint32 // number - pfx base, or the Ref of the id in ids
	pfx         []idPrefix
	ids         arena.Arena
}

func (c *cols) n() int { return len(c.start) }

func (c *cols) add(loc, person uint32, start, end scoring.Time, l uint8, num uint32) {
	c.start, c.end = append(c.start, start), append(c.end, end)
	c.loc, c.person = append(c.loc, loc), append(c.person, person)
	c.idLocal, c.idNum = append(c.idLocal, l), append(c.idNum, num)
}

func (c *cols) id(i int) string {
	l := c.idLocal[i]
	if l == idArena {
		return c.ids.Get(arena.Ref(c.idNum[i]))
	}
	p := &c.pfx[l]
	if !p.num {
		return p.s
	}
	var buf [64]byte
	return string(strconv.AppendUint(append(buf[:0], p.s...), p.base+uint64(c.idNum[i]), 10))
}

func (c *cols) bytes() int {
	return cap(c.start)*4 + cap(c.end)*4 + cap(c.loc)*4 + cap(c.person)*4 + cap(c.idLocal) + cap(c.idNum)*4 +
		c.ids.Cap() + len(c.pfx)*40
}

// builder fills the unsealed segment: records in arrival order, with a chain per
// place (for the join), a hash table for duplicates and the prefix table.
type builder struct {
	c         cols
	minEnd    scoring.Time
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
	b.minEnd = scoring.MaxTime
	b.placeHead = map[uint32]uint16{}
	b.dup = make([]uint16, 64)
	b.pfxIndex = map[pfxKey]uint8{}
}

// reset empties the builder, keeping its buffers.
func (b *builder) reset() {
	c := &b.c
	*c = cols{start: c.start[:0], end: c.end[:0], loc: c.loc[:0], person: c.person[:0],
		idLocal: c.idLocal[:0], idNum: c.idNum[:0], pfx: c.pfx[:0]}
	b.minEnd = scoring.MaxTime
	clear(b.placeHead)
	b.placeNext = b.placeNext[:0]
	clear(b.dup)
	clear(b.pfxIndex)
}

func (b *builder) bytes() int {
	return b.c.bytes() + len(b.placeHead)*8 + cap(b.placeNext)*2 + cap(b.dup)*2 + len(b.pfxIndex)*48
}

// encodeID returns the id's local prefix index and number in the builder's
// records, adding a prefix if needed; idArena and 0 when it has no local form yet.
func (b *builder) encodeID(id string, add bool) (uint8, uint32) {
	pre, num, isNum := splitID(id)
	k := pfxKey{s: pre, num: isNum}
	if isNum {
		k.base = num &^ (1<<31 - 1)
	}
	if l, ok := b.pfxIndex[k]; ok {
		return l, uint32(num - k.base)
	}
	if !add || len(b.c.pfx) >= idArena {
		return idArena, 0
	}
	l := uint8(len(b.c.pfx))
	b.c.pfx = append(b.c.pfx, idPrefix{s: pre, base: k.base, num: isNum})
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
	c := &b.c
	for i := int(b.dupHash(person, place, start, end, id)) & mask; ; i = (i + 1) & mask {
		r := int(b.dup[i]) - 1
		if r < 0 {
			return false
		}
		if c.person[r] == person && c.start[r] == start && locPlace[c.loc[r]] == place && c.end[r] == end && c.id(r) == id {
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
			b.insertDup(locPlace, r, locPlace[b.c.loc[r]], b.c.id(r))
		}
	}
	c := &b.c
	mask := len(b.dup) - 1
	j := int(b.dupHash(c.person[i], place, c.start[i], c.end[i], id)) & mask
	for b.dup[j] != 0 {
		j = (j + 1) & mask
	}
	b.dup[j] = uint16(i + 1)
}

// add appends a record; the caller has checked that it is not a duplicate and
// that the segment is not full.
func (b *builder) add(locPlace []uint32, person, loc, place uint32, start, end scoring.Time, id string) {
	c := &b.c
	i := c.n()
	l, num := b.encodeID(id, true)
	if l == idArena {
		num = uint32(c.ids.Put(id))
	}
	c.add(loc, person, start, end, l, num)
	b.minEnd = min(b.minEnd, end)
	b.placeNext = append(b.placeNext, b.placeHead[place])
	b.placeHead[place] = uint16(i + 1)
	b.insertDup(locPlace, i, place, id)
}

// stay returns record i as a stay.
func (b *builder) stay(locPlace []uint32, i int) stay {
	c := &b.c
	return stay{person: c.person[i], loc: c.loc[i], place: locPlace[c.loc[i]], start: c.start[i], end: c.end[i], ev: evid{src: c, i: i}}
}

// seal returns the builder's records as a sealed segment and resets the
// builder.
func (b *builder) seal(locs *locTable) *segment {
	c := &b.c
	n := c.n()
	// The sort buffers are transient: a sealed tracer keeps only its records.
	items := make([]sortItem, n)
	buf := make([]sortItem, n)
	for i := range items {
		items[i] = sortItem{k: uint64(locs.place[c.loc[i]])<<32 | uint64(c.start[i]), i: uint32(i)}
	}
	radixSort(items, buf)
	// Then by class, keeping the (place, start) order within each.
	var count [numClasses + 1]int
	for _, it := range items {
		count[locs.class[c.loc[it.i]]+1]++
	}
	for k := 1; k <= numClasses; k++ {
		count[k] += count[k-1]
	}
	order := make([]uint32, n)
	for _, it := range items {
		k := locs.class[c.loc[it.i]]
		order[count[k]] = it.i
		count[k]++
	}
	s := pack(c, order, locs.class)
	b.reset()
	return s
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

// splitID splits an event id into a prefix and a trailing decimal number
// without leading zeros (at most 18 digits), so that prefix +
// strconv.FormatUint(num, 10) == id. ok is false when id has no trailing digit.
func splitID(id string) (prefix string, num uint64, ok bool) {
	j := len(id)
	for j > 0 && id[j-1] >= '0' && id[j-1] <= '9' && len(id)-j < 18 {
		j--
	}
	for j < len(id)-1 && id[j] == '0' {
		j++
	}
	if j == len(id) {
		return id, 0, false
	}
	for _, c := range []byte(id[j:]) {
		num = num*10 + uint64(c-'0')
	}
	return id[:j], num, true
}
