package sources

import "strconv"

// The one home of JSON syntax, with the tokens of jsonlex.go: a single-pass
// reader that checks the syntax of RFC 8259 as it goes, the way
// encoding/json's scanner does, to the same error sentences and byte
// offsets, and hands each value to the decode functions of jsonshapes.go (by
// way of jsonvalues.go). It does not reflect, recurse into values it skips,
// or allocate: strings are returned as slices of the input, or of buf when
// they hold escapes.

// maxDepth is encoding/json's limit on the nesting of objects and arrays.
const maxDepth = 10000

// maxBuf is the largest unescape buffer a pooled reader keeps.
const maxBuf = 64 << 10

// reader reads one message. The first syntax error stops it (every method
// then does nothing); the first type error is recorded and reading goes on,
// since a later syntax error takes precedence, as in encoding/json.
type reader struct {
	data    []byte
	i       int // offset of the next byte
	depth   int // objects and arrays open
	key     key // the member name member read last
	syn     syntaxFault
	typ     typeFault
	buf     []byte                  // unescaped strings
	escaped bool                    // buf was used in this message
	nest    [maxDepth/64 + 1]uint64 // what skip has open: a 1 bit an object, 0 an array
}

// syntaxFault is a syntax error as encoding/json's *SyntaxError has it.
type syntaxFault struct {
	set bool
	off int    // bytes read when it was found (SyntaxError.Offset)
	c   byte   // the offending byte
	ctx string // where it was found; "" for the end of the input
}

// message returns the error's text, as SyntaxError.Error does.
func (f *syntaxFault) message() string {
	if f.ctx == "" {
		return "unexpected end of JSON input"
	}
	return "invalid character " + quoteChar(f.c) + " " + f.ctx
}

// quoteChar writes c as encoding/json's scanner does: in single quotes, Go
// escapes for unprintable characters, a byte above 0x7f as the rune of that
// value.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (r *reader) reset(data []byte) {
	r.data, r.i, r.depth, r.key = data, 0, 0, keyUnknown
	r.syn, r.typ = syntaxFault{}, typeFault{}
}

// release drops the input and wipes what was unescaped from it.
func (r *reader) release() {
	r.data = nil
	if r.escaped {
		clear(r.buf[:cap(r.buf)])
		r.buf, r.escaped = r.buf[:0], false
	}
	if cap(r.buf) > maxBuf {
		r.buf = nil
	}
}

// fail records a syntax error at the next byte found in context ctx. At the
// end of the input it is the end that is unexpected.
func (r *reader) fail(ctx string) {
	if r.syn.set {
		return
	}
	if r.i >= len(r.data) {
		r.syn = syntaxFault{set: true, off: len(r.data)}
		return
	}
	r.syn = syntaxFault{set: true, off: r.i + 1, c: r.data[r.i], ctx: ctx}
}

// failIn is fail inside a number, literal or escape: there encoding/json's
// scanner, at the end of the input, is given a space and refuses that.
func (r *reader) failIn(ctx string) {
	if r.i >= len(r.data) && !r.syn.set {
		r.syn = syntaxFault{set: true, off: len(r.data), c: ' ', ctx: ctx}
		return
	}
	r.fail(ctx)
}

// ws skips whitespace.
func (r *reader) ws() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// value skips whitespace to the next value and returns its first byte, or 0
// after a syntax error.
func (r *reader) value() byte {
	if r.syn.set {
		return 0
	}
	r.ws()
	if r.i < len(r.data) {
		switch c := r.data[r.i]; c {
		case '{', '[', '"', '-', 't', 'f', 'n', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return c
		}
	}
	r.fail("looking for beginning of value")
	return 0
}

// push enters the object or array whose first byte is next.
func (r *reader) push() bool {
	if r.depth >= maxDepth {
		r.fail("exceeded max depth")
		return false
	}
	r.depth++
	r.i++
	return true
}

// member reads the next member name of the object being read, n members in,
// and its colon; it sets r.key and returns true, or returns false at the
// end of the object or after a syntax error.
func (r *reader) member(n int) bool {
	if r.syn.set {
		return false
	}
	r.ws()
	if r.i < len(r.data) {
		switch c := r.data[r.i]; {
		case c == '}':
			r.i++
			r.depth--
			return false
		case n == 0:
		case c == ',':
			r.i++
			r.ws()
		default:
			r.fail("after object key:value pair")
			return false
		}
	}
	raw, esc, ok := r.name()
	if !ok {
		return false
	}
	if esc {
		raw = r.unescape(raw)
	}
	r.key = lookup(raw)
	return true
}

// name reads a member name and the colon after it.
func (r *reader) name() (raw []byte, esc, ok bool) {
	if r.i >= len(r.data) || r.data[r.i] != '"' {
		r.fail("looking for beginning of object key string")
		return nil, false, false
	}
	if raw, esc, ok = r.scanString(); !ok {
		return nil, false, false
	}
	r.ws()
	if r.i >= len(r.data) || r.data[r.i] != ':' {
		r.fail("after object key")
		return nil, false, false
	}
	r.i++
	return raw, esc, true
}

// elem moves to the next element of the array being read, n elements in,
// and returns false at the end of the array or after a syntax error.
func (r *reader) elem(n int) bool {
	if r.syn.set {
		return false
	}
	r.ws()
	if r.i < len(r.data) {
		switch c := r.data[r.i]; {
		case c == ']':
			r.i++
			r.depth--
			return false
		case n == 0:
			return true
		case c == ',':
			r.i++
			return true
		}
	}
	r.fail("after array element")
	return false
}

// end checks that only whitespace follows the top-level value.
func (r *reader) end() {
	if r.syn.set {
		return
	}
	r.ws()
	if r.i < len(r.data) {
		r.fail("after top-level value")
	}
}
