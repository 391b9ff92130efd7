package scoring

import (
	"encoding/binary"
	"math/bits"

	"healthcode/scoring/internal/mix"
)

// bucketSlots is the number of persons one index bucket holds.
const bucketSlots = 12

// bucket is one cache line of the person index: a one-byte tag (the top byte
// of the key's hash, never 0) and the position of each of up to bucketSlots
// persons, filled in order.
type bucket struct {
	tags [bucketSlots]uint8
	pos  [bucketSlots]uint32
	n    uint8
	_    [3]byte
}

// personIndex maps person keys to positions in the engine's facts slice. The
// keys live once, in Facts.Person, beside the hot facts: a lookup reads one
// bucket (one cache line; the next one too when it has overflowed) and then
// the person's Facts, which the event needs anyway, and it compares a key
// only where a tag matches (a false match costs one in 255 per filled slot).
// Buckets are probed linearly and kept at most maxLoad full: about 6.7 to
// 8.4 bytes a person, against 8 to 16 for a half-full table of uint32
// positions and about 40 in a Go map of [16]byte to uint32. Pointer-free.
type personIndex struct {
	buckets []bucket
	mask    uint64
	n       int
}

// maxLoadNum/maxLoadDen is the fill of the index's slots past which it grows.
const maxLoadNum, maxLoadDen = 17, 20

func newPersonIndex(capacity int) personIndex {
	size := 16
	for size*bucketSlots*maxLoadNum < capacity*maxLoadDen {
		size *= 2
	}
	return personIndex{buckets: make([]bucket, size), mask: uint64(size - 1)}
}

// hashOf hashes a key: person keys are HMAC output, but tests and callers may
// use any bytes, so both halves are mixed (mix.Mix64, the tracer's finaliser
// too). The low bits pick the bucket, the top byte is the tag.
func hashOf(k *PersonKey) uint64 {
	return mix.Mix64(binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])*0x9e3779b97f4a7c15)
}

func tagOf(h uint64) uint8 { return max(uint8(h>>56), 1) }

const (
	lsb = 0x0101010101010101
	low = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes sets the top bit of every byte of x that is zero, exactly.
func zeroBytes(x uint64) uint64 {
	y := (x & low) + low
	return ^(y | x | low)
}

// get returns the position of k; facts holds every indexed person.
func (ix *personIndex) get(k *PersonKey, facts []Facts) (uint32, bool) {
	h := hashOf(k)
	t := uint64(tagOf(h)) * lsb
	for b := h & ix.mask; ; b = (b + 1) & ix.mask {
		bk := &ix.buckets[b]
		lo := zeroBytes(binary.LittleEndian.Uint64(bk.tags[:8]) ^ t)
		hi := zeroBytes(uint64(binary.LittleEndian.Uint32(bk.tags[8:])) ^ t&0xffffffff)
		hi &= 0x80808080
		for lo != 0 {
			p := bk.pos[bits.TrailingZeros64(lo)>>3]
			if facts[p].Person == *k {
				return p, true
			}
			lo &= lo - 1
		}
		for hi != 0 {
			p := bk.pos[8+bits.TrailingZeros64(hi)>>3]
			if facts[p].Person == *k {
				return p, true
			}
			hi &= hi - 1
		}
		if bk.n < bucketSlots {
			return 0, false
		}
	}
}

// put records that k (not present) is at position pos; facts[pos] must be
// k's (growing re-reads every key from facts).
func (ix *personIndex) put(k *PersonKey, pos uint32, facts []Facts) {
	if (ix.n+1)*maxLoadDen > len(ix.buckets)*bucketSlots*maxLoadNum {
		ix.grow(facts)
	}
	ix.place(hashOf(k), pos)
	ix.n++
}

func (ix *personIndex) place(h uint64, pos uint32) {
	b := h & ix.mask
	for ix.buckets[b].n == bucketSlots {
		b = (b + 1) & ix.mask
	}
	bk := &ix.buckets[b]
	bk.tags[bk.n], bk.pos[bk.n] = tagOf(h), pos
	bk.n++
}

func (ix *personIndex) grow(facts []Facts) {
	ix.buckets = make([]bucket, 2*len(ix.buckets))
	ix.mask = uint64(len(ix.buckets) - 1)
	for p := range ix.n {
		ix.place(hashOf(&facts[p].Person), uint32(p))
	}
}
