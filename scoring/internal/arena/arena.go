// Package arena owns the string arena of the in-memory tables of scoring and
// scoring/tracing: strings stored back to back in one byte slice, which the
// garbage collector does not scan, named by a 32-bit Ref. It knows nothing of
// what the strings mean and imports nothing of the module.
package arena

import "encoding/binary"

// Ref points at a string in an Arena: offset+1, so that zero means none.
type Ref uint32

// Arena stores strings back to back as uvarint length + bytes in one byte
// slice. The zero value is an empty arena.
type Arena struct {
	buf []byte
}

// New returns an empty arena with room for capacity bytes.
func New(capacity int) Arena { return Arena{buf: make([]byte, 0, capacity)} }

// Put stores s and returns its Ref (0 for the empty string).
func (a *Arena) Put(s string) Ref {
	if s == "" {
		return 0
	}
	off := len(a.buf)
	a.buf = binary.AppendUvarint(a.buf, uint64(len(s)))
	a.buf = append(a.buf, s...)
	return Ref(off + 1)
}

// Get returns the string at r ("" for 0 or a Ref this arena never gave).
func (a *Arena) Get(r Ref) string { return string(a.Bytes(r)) }

// Bytes returns the string's bytes in place (valid until the next Put),
// without allocating.
func (a *Arena) Bytes(r Ref) []byte {
	if r == 0 || int(r) > len(a.buf) {
		return nil
	}
	b := a.buf[r-1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil
	}
	return b[k : k+int(n)]
}

// Size is the number of bytes held.
func (a *Arena) Size() int { return len(a.buf) }

// Cap is the number of bytes allocated.
func (a *Arena) Cap() int { return cap(a.buf) }

// Clip drops the unused capacity, so that a sealed arena holds only its bytes.
func (a *Arena) Clip() { a.buf = a.buf[:len(a.buf):len(a.buf)] }
