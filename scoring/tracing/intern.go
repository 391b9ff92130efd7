package tracing

// The tracer's interning tables map people, places and locations to dense
// uint32 indices so that presence records are small and pointer-free. Each
// entry is reference-counted by the records that use it; an entry whose count
// falls to zero is deleted and its index reused, so the tables shrink with
// Expire and an index in a live record always means the same thing.

// placeTable interns places: cells by cell, the others by name per kind.
type placeTable struct {
	kind  []PlaceKind
	name  []string // venue id, region code or flight; "" for cells
	cell  []uint64
	refs  []uint32 // locations using the place
	free  []uint32
	named [PlaceFlight + 1]map[string]uint32
	cells map[uint64]uint32
	chars int // bytes of names
}

func (t *placeTable) lookup(k PlaceKind, name string, cell uint64) (uint32, bool) {
	var x uint32
	var ok bool
	if k == PlaceCell {
		x, ok = t.cells[cell]
	} else {
		x, ok = t.named[k][name]
	}
	return x, ok
}

// add interns a place that lookup did not find, with one use.
func (t *placeTable) add(k PlaceKind, name string, cell uint64) uint32 {
	if t.cells == nil {
		t.cells = map[uint64]uint32{}
		for i := range t.named {
			t.named[i] = map[string]uint32{}
		}
	}
	var x uint32
	if n := len(t.free); n > 0 {
		x = t.free[n-1]
		t.free = t.free[:n-1]
		t.kind[x], t.name[x], t.cell[x], t.refs[x] = k, name, cell, 1
	} else {
		x = uint32(len(t.kind))
		t.kind = append(t.kind, k)
		t.name = append(t.name, name)
		t.cell = append(t.cell, cell)
		t.refs = append(t.refs, 1)
	}
	if k == PlaceCell {
		t.cells[cell] = x
	} else {
		t.named[k][name] = x
		t.chars += len(name)
	}
	return x
}

func (t *placeTable) release(x uint32) {
	t.refs[x]--
	if t.refs[x] != 0 {
		return
	}
	if t.kind[x] == PlaceCell {
		delete(t.cells, t.cell[x])
	} else {
		delete(t.named[t.kind[x]], t.name[x])
		t.chars -= len(t.name[x])
	}
	t.kind[x], t.name[x], t.cell[x] = 0, "", 0
	t.free = append(t.free, x)
}

// key returns the place key of index x.
func (t *placeTable) key(x uint32) string { return placeKey(t.kind[x], t.name[x], t.cell[x]) }

func (t *placeTable) bytes() int {
	return cap(t.kind) + cap(t.name)*16 + cap(t.cell)*8 + cap(t.refs)*4 + cap(t.free)*4 +
		2*t.chars + (len(t.named[PlaceVenue])+len(t.named[PlaceRegion])+len(t.named[PlaceFlight]))*40 + len(t.cells)*24
}

// A location is a place plus what distinguishes presences within it that the
// join needs: the seat row on a flight, the fine cell (and whether it came from
// a travel record) in an H3 cell, the travel flag in a region. Records store the
// location; most presences share one.
type locTable struct {
	place []uint32
	vari  []uint64
	class []uint8 // locClass
	refs  []uint32
	free  []uint32
	slots []uint32 // open addressing by (place, variant): index+1, 0 = empty
	live  int
}

func locHash(place uint32, vari uint64) uint64 {
	return (uint64(place)*0x9e3779b97f4a7c15 ^ vari) * 0xbf58476d1ce4e5b9
}

// find returns the slot of (place, vari) and whether it holds it.
func (t *locTable) find(place uint32, vari uint64) (int, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := len(t.slots) - 1
	for i := int(locHash(place, vari)>>32) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return i, false
		}
		if t.place[s-1] == place && t.vari[s-1] == vari {
			return i, true
		}
	}
}

func (t *locTable) grow() {
	old := t.slots
	t.slots = make([]uint32, max(64, 2*len(old)))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := int(locHash(t.place[s-1], t.vari[s-1])>>32) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// locTravel flags a location from a travel record. H3 indexes leave bit 63 zero.
const locTravel = uint64(1) << 63

func locVariant(p *Presence) uint64 {
	switch p.Kind {
	case PlaceFlight:
		return uint64(uint16(p.Row))
	case PlaceCell:
		v := p.Fine
		if p.Travel {
			v |= locTravel
		}
		return v
	case PlaceRegion:
		if p.Travel {
			return locTravel
		}
	}
	return 0
}

// intern returns the location's index (at a place of kind k); isNew tells the
// caller to count a use of the place.
func (t *locTable) intern(place uint32, k PlaceKind, vari uint64) (x uint32, isNew bool) {
	if (t.live+1)*10 > len(t.slots)*7 {
		t.grow()
	}
	i, ok := t.find(place, vari)
	if ok {
		x = t.slots[i] - 1
		t.refs[x]++
		return x, false
	}
	if n := len(t.free); n > 0 {
		x = t.free[n-1]
		t.free = t.free[:n-1]
		t.place[x], t.vari[x], t.class[x], t.refs[x] = place, vari, locClass(k, vari), 1
	} else {
		x = uint32(len(t.place))
		t.place = append(t.place, place)
		t.vari = append(t.vari, vari)
		t.class = append(t.class, locClass(k, vari))
		t.refs = append(t.refs, 1)
	}
	t.slots[i] = x + 1
	t.live++
	return x, true
}

// release counts one use less; gone reports that the location was deleted
// (and its place needs one use less).
func (t *locTable) release(x uint32) (gone bool) {
	t.refs[x]--
	if t.refs[x] != 0 {
		return false
	}
	i, ok := t.find(t.place[x], t.vari[x])
	if !ok {
		panic("tracing: location table lost a key")
	}
	mask := len(t.slots) - 1
	for {
		t.slots[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			s := t.slots[j]
			if s == 0 {
				t.free = append(t.free, x)
				t.live--
				return true
			}
			home := int(locHash(t.place[s-1], t.vari[s-1])>>32) & mask
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

func (t *locTable) row(x uint32) int16 { return int16(uint16(t.vari[x])) }

func (t *locTable) bytes() int {
	return cap(t.place)*4 + cap(t.vari)*8 + cap(t.class) + cap(t.refs)*4 + cap(t.free)*4 + cap(t.slots)*4
}
