package tracing

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"healthcode/scoring"
)

// personTable interns person keys to dense uint32 indices (see intern.go for
// the tables' common rules). At low presences per person (a place partition
// sees most people once or twice a day) the table is most of a tracer's
// memory, so an entry is kept to its key and a byte:
//
//   - keys and use counts live in fixed chunks of 4,096 entries, which
//     never move or grow (no slack, no copy of the table when it grows);
//   - a use count is one byte; the uses beyond 255 of the rare person with
//     more are counted in more;
//   - the hash table is open addressing with linear probing over slots of
//     index+1 under a tag of hash bits (the bits the index leaves free), so
//     that a probe compares a key only when the tag matches; it is kept at
//     most 80% full and grows by half (any size: the home slot is the hash
//     scaled to the size), so it averages about 6 bytes an entry.
//
// About 23 bytes a person in all; person keys are HMAC output, so their bytes
// hash well.
type personTable struct {
	chunks []*personChunk
	n      uint32            // indices handed out, free ones included
	free   []uint32          // indices to reuse
	more   map[uint32]uint32 // uses beyond 255
	slots  []uint32          // tag<<idxBits | index+1; 0 = empty
	live   int
}

// A chunk holds 1<<personChunkBits entries.
const personChunkBits = 12

type personChunk struct {
	keys [1 << personChunkBits]scoring.PersonKey
	refs [1 << personChunkBits]uint8 // uses, at most 255 (the rest in personTable.more)
}

// init pre-sizes the table for n people.
func (t *personTable) init(n int) {
	t.slots = make([]uint32, max(16, n*10/8+1))
	t.chunks = make([]*personChunk, 0, n>>personChunkBits+1)
}

func personHash(k *scoring.PersonKey) uint64 {
	h := binary.LittleEndian.Uint64(k[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(k[8:]), 29)
	return h * 0x9e3779b97f4a7c15
}

// key returns the key of index x.
func (t *personTable) key(x uint32) *scoring.PersonKey {
	return &t.chunks[x>>personChunkBits].keys[x&(1<<personChunkBits-1)]
}

func (t *personTable) refs(x uint32) *uint8 {
	return &t.chunks[x>>personChunkBits].refs[x&(1<<personChunkBits-1)]
}

// idxBits is the number of low bits of a slot that hold index+1: every index
// handed out is below 80% of the table's size, so index+1 fits.
func (t *personTable) idxBits() uint { return uint(bits.Len(uint(len(t.slots)))) }

// home returns the home slot of hash h and the tag a slot of it carries.
func (t *personTable) home(h uint64) (int, uint32) {
	n := uint64(len(t.slots))
	b := t.idxBits()
	return int(uint64(uint32(h)) * n >> 32), uint32(h>>32) << b
}

// find returns the slot of k and whether it holds k.
func (t *personTable) find(k *scoring.PersonKey) (int, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	i, tag := t.home(personHash(k))
	b := t.idxBits()
	idxMask := uint32(1)<<b - 1
	for {
		s := t.slots[i]
		if s == 0 {
			return i, false
		}
		if s&^idxMask == tag && *t.key(s&idxMask - 1) == *k {
			return i, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// lookup returns the index of k if it is interned.
func (t *personTable) lookup(k scoring.PersonKey) (uint32, bool) {
	i, ok := t.find(&k)
	if !ok {
		return 0, false
	}
	return t.slots[i]&(uint32(1)<<t.idxBits()-1) - 1, true
}

// use counts one more use of index x.
func (t *personTable) use(x uint32) {
	if r := t.refs(x); *r < 255 {
		*r++
		return
	}
	if t.more == nil {
		t.more = map[uint32]uint32{}
	}
	t.more[x]++
}

// intern returns the index of k, adding it if needed, and counts one more use.
func (t *personTable) intern(k scoring.PersonKey) uint32 {
	if (t.live+1)*10 > len(t.slots)*8 {
		t.grow()
	}
	i, ok := t.find(&k)
	if ok {
		x := t.slots[i]&(uint32(1)<<t.idxBits()-1) - 1
		t.use(x)
		return x
	}
	var x uint32
	if n := len(t.free); n > 0 {
		x = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		x = t.n
		t.n++
		if int(x>>personChunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, new(personChunk))
		}
	}
	*t.key(x), *t.refs(x) = k, 1
	_, tag := t.home(personHash(&k))
	t.slots[i] = tag | (x + 1)
	t.live++
	return x
}

func (t *personTable) grow() {
	old, ob := t.slots, t.idxBits()
	t.slots = make([]uint32, max(16, len(old)*3/2))
	for _, s := range old {
		if s == 0 {
			continue
		}
		x := s&(uint32(1)<<ob-1) - 1
		i, tag := t.home(personHash(t.key(x)))
		for t.slots[i] != 0 {
			if i++; i == len(t.slots) {
				i = 0
			}
		}
		t.slots[i] = tag | (x + 1)
	}
}

// release counts one use less of index x, deleting it at zero.
func (t *personTable) release(x uint32) {
	r := t.refs(x)
	if *r == 255 {
		if m := t.more[x]; m > 0 {
			if m == 1 {
				delete(t.more, x)
			} else {
				t.more[x] = m - 1
			}
			return
		}
	}
	if *r--; *r != 0 {
		return
	}
	i, ok := t.find(t.key(x))
	if !ok {
		panic("tracing: person table lost a key")
	}
	// Backward-shift deletion keeps every probe sequence unbroken.
	n := len(t.slots)
	idxMask := uint32(1)<<t.idxBits() - 1
	for {
		t.slots[i] = 0
		j := i
		for {
			if j++; j == n {
				j = 0
			}
			s := t.slots[j]
			if s == 0 {
				*t.key(x) = scoring.PersonKey{}
				t.free = append(t.free, x)
				t.live--
				return
			}
			home, _ := t.home(personHash(t.key(s&idxMask - 1)))
			// The entry at j may move to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.slots[i] = s
				i = j
				break
			}
		}
	}
}

func (t *personTable) bytes() int {
	return len(t.chunks)*int(unsafe.Sizeof(personChunk{})) + cap(t.chunks)*8 + cap(t.free)*4 + cap(t.slots)*4 + len(t.more)*16
}
