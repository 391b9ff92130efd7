package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Arrow IPC message header types (format/Message.fbs, union MessageHeader).
const (
	headerSchema      = 1
	headerRecordBatch = 3
)

// ipcMessage is one framed message of an Arrow IPC stream.
type ipcMessage struct {
	header     byte // MessageHeader union type
	compressed bool // a record batch with a BodyCompression
	end        int  // offset just past its body
}

// scanIPC walks the framing of an Arrow IPC stream without trusting it: every
// metadata and body length must fit in what is left of b, legacy framing
// (without the 0xFFFFFFFF continuation marker) is refused, and the stream
// must end with an end-of-stream marker and nothing after it. It reads the few
// flatbuffer fields it needs itself, with bounds checks, so that Arrow is only
// handed a stream whose allocations are bounded by len(b).
func scanIPC(b []byte) ([]ipcMessage, error) {
	var msgs []ipcMessage
	le := binary.LittleEndian
	off := 0
	for {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%w: arrow stream truncated at byte %d", ErrMalformed, off)
		}
		if le.Uint32(b[off:]) != 0xFFFFFFFF {
			return nil, fmt.Errorf("%w: no arrow continuation marker at byte %d", ErrMalformed, off)
		}
		metaLen := int64(int32(le.Uint32(b[off+4:])))
		off += 8
		if metaLen == 0 { // end of stream
			if off != len(b) {
				return nil, fmt.Errorf("%w: %d bytes after the end of the arrow stream", ErrMalformed, len(b)-off)
			}
			return msgs, nil
		}
		if metaLen < 0 || metaLen > int64(len(b)-off) {
			return nil, fmt.Errorf("%w: arrow message of %d metadata bytes at byte %d", ErrMalformed, metaLen, off)
		}
		meta := b[off : off+int(metaLen)]
		off += int(metaLen)
		m, bodyLen, err := parseMessage(meta)
		if err != nil {
			return nil, err
		}
		if bodyLen < 0 || bodyLen > int64(len(b)-off) {
			return nil, fmt.Errorf("%w: arrow message body of %d bytes at byte %d", ErrMalformed, bodyLen, off)
		}
		off += int(bodyLen)
		m.end = off
		msgs = append(msgs, m)
	}
}

// parseMessage reads header type, body length and (for a record batch) the
// presence of compression from an IPC Message flatbuffer.
//
//	table Message { version: short; header: MessageHeader (type + table); bodyLength: long; ... }
//	table RecordBatch { length: long; nodes; buffers; compression: BodyCompression; ... }
func parseMessage(meta []byte) (m ipcMessage, bodyLen int64, err error) {
	bad := func(what string) (ipcMessage, int64, error) {
		return ipcMessage{}, 0, fmt.Errorf("%w: arrow message metadata: %s", ErrMalformed, what)
	}
	root, ok := fbRoot(meta)
	if !ok {
		return bad("root")
	}
	// Fields: 0 version, 1 header_type, 2 header, 3 bodyLength.
	p, ok := root.field(1, 1)
	if !ok || p == 0 {
		return bad("header type")
	}
	m.header = meta[p]
	if p, ok = root.field(3, 8); !ok {
		return bad("body length")
	}
	if p != 0 {
		bodyLen = int64(binary.LittleEndian.Uint64(meta[p:]))
	}
	if m.header == headerRecordBatch {
		rb, ok := root.table(2)
		if !ok {
			return bad("record batch")
		}
		p, ok := rb.field(3, 4)
		if !ok {
			return bad("record batch compression")
		}
		m.compressed = p != 0
	}
	return m, bodyLen, nil
}

// fbTable is a flatbuffer table at pos in buf.
type fbTable struct {
	buf []byte
	pos int
}

func fbRoot(buf []byte) (fbTable, bool) {
	if len(buf) < 4 {
		return fbTable{}, false
	}
	return fbAt(buf, int64(binary.LittleEndian.Uint32(buf)))
}

// fbAt checks that a table at pos has its vtable within buf.
func fbAt(buf []byte, pos int64) (fbTable, bool) {
	if pos < 0 || pos > int64(len(buf))-4 {
		return fbTable{}, false
	}
	vt := pos - int64(int32(binary.LittleEndian.Uint32(buf[pos:])))
	if vt < 0 || vt > int64(len(buf))-4 {
		return fbTable{}, false
	}
	if vtLen := int64(binary.LittleEndian.Uint16(buf[vt:])); vtLen < 4 || vt+vtLen > int64(len(buf)) {
		return fbTable{}, false
	}
	return fbTable{buf, int(pos)}, true
}

// field returns the position of field i, whose value is size bytes, or 0 if
// the field is absent; ok is false if the field lies outside the buffer.
func (t fbTable) field(i, size int) (pos int, ok bool) {
	le := binary.LittleEndian
	vt := t.pos - int(int32(le.Uint32(t.buf[t.pos:])))
	vtLen := int(le.Uint16(t.buf[vt:]))
	slot := 4 + 2*i
	if slot+2 > vtLen {
		return 0, true
	}
	o := int(le.Uint16(t.buf[vt+slot:]))
	if o == 0 {
		return 0, true
	}
	if t.pos+o+size > len(t.buf) {
		return 0, false
	}
	return t.pos + o, true
}

// table follows the offset in field i to a sub-table.
func (t fbTable) table(i int) (fbTable, bool) {
	p, ok := t.field(i, 4)
	if !ok || p == 0 {
		return fbTable{}, false
	}
	return fbAt(t.buf, int64(p)+int64(binary.LittleEndian.Uint32(t.buf[p:])))
}

// budgetAllocator is the allocator Arrow decodes with. Arrow copies each
// buffer of a record batch into a fresh allocation whose size it reads from
// the message, before reading the bytes; a corrupt size would be a huge
// allocation (an unrecoverable out-of-memory, not a panic). The budget caps the
// total at what a well-formed stream of the input's size can need, and going
// over it panics, which Arrow's reader recovers into an error.
type budgetAllocator struct {
	mem  memory.Allocator
	left int
}

func newBudgetAllocator(input int) *budgetAllocator {
	// The body is copied once whole and once buffer by buffer, each buffer
	// rounded up to 64 bytes plus 64 of alignment padding.
	return &budgetAllocator{mem: memory.NewGoAllocator(), left: 2*input + 64<<10}
}

func (a *budgetAllocator) take(size int) {
	if size < 0 || size > a.left {
		panic(fmt.Sprintf("arrow allocation of %d bytes exceeds the input's budget", size))
	}
	a.left -= size
}

func (a *budgetAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.mem.Allocate(size)
}

func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	if size > len(b) {
		a.take(size - len(b))
	}
	return a.mem.Reallocate(size, b)
}

func (a *budgetAllocator) Free(b []byte) { a.mem.Free(b) }
