package scoring

import (
	"encoding/binary"

	"healthcode/scoring/internal/mix"
)

// personIndex maps person keys to positions in the engine's keys and facts
// slices: an open-addressing table of uint32 (position+1, 0 = empty) with
// linear probing, kept at most half full. The keys themselves live once, in
// the engine's keys slice, so a person costs 8 bytes here at worst, against
// about 40 in a Go map of [16]byte to uint32; and the table is pointer-free.
type personIndex struct {
	slots []uint32
	mask  uint64
	n     int
}

func newPersonIndex(capacity int) personIndex {
	size := 16
	for size < 2*capacity {
		size *= 2
	}
	return personIndex{slots: make([]uint32, size), mask: uint64(size - 1)}
}

// slotOf hashes a key: person keys are HMAC output, but tests and callers may
// use any bytes, so both halves are mixed (mix.Mix64, the tracer's finaliser too).
func slotOf(k *PersonKey) uint64 {
	return mix.Mix64(binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])*0x9e3779b97f4a7c15)
}

// get returns the position of k.
func (ix *personIndex) get(k *PersonKey, keys []PersonKey) (uint32, bool) {
	for s := slotOf(k) & ix.mask; ; s = (s + 1) & ix.mask {
		v := ix.slots[s]
		if v == 0 {
			return 0, false
		}
		if keys[v-1] == *k {
			return v - 1, true
		}
	}
}

// put records that k (not present) is at position idx; keys[idx] must be k.
func (ix *personIndex) put(k *PersonKey, idx uint32, keys []PersonKey) {
	if 2*(ix.n+1) > len(ix.slots) {
		ix.grow(keys)
	}
	ix.place(k, idx)
	ix.n++
}

func (ix *personIndex) place(k *PersonKey, idx uint32) {
	s := slotOf(k) & ix.mask
	for ix.slots[s] != 0 {
		s = (s + 1) & ix.mask
	}
	ix.slots[s] = idx + 1
}

func (ix *personIndex) grow(keys []PersonKey) {
	old := ix.slots
	ix.slots = make([]uint32, 2*len(old))
	ix.mask = uint64(len(ix.slots) - 1)
	for _, v := range old {
		if v != 0 {
			ix.place(&keys[v-1], v-1)
		}
	}
}
