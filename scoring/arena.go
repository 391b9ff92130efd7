package scoring

import "encoding/binary"

// arena stores strings back to back as uvarint length + bytes in one byte slice,
// which the garbage collector does not scan. A Ref is offset+1.
type arena struct {
	buf []byte
}

func (a *arena) put(s string) Ref {
	if s == "" {
		return 0
	}
	off := len(a.buf)
	a.buf = binary.AppendUvarint(a.buf, uint64(len(s)))
	a.buf = append(a.buf, s...)
	return Ref(off + 1)
}

func (a *arena) get(r Ref) string { return string(a.bytes(r)) }

// bytes returns the string's bytes in place (valid until the next put or
// compaction), without allocating.
func (a *arena) bytes(r Ref) []byte {
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

// size is the number of bytes held.
func (a *arena) size() int { return len(a.buf) }
