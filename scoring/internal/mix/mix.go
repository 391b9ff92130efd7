// Package mix owns the 64-bit hash finaliser shared by the open-addressing
// tables of scoring and scoring/tracing, so that both hash alike. It imports
// nothing of the module.
package mix

// Mix64 is the MurmurHash3 finaliser: every input bit affects every output bit.
func Mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
