package sources

import (
	"errors"
	"math"
	"strconv"
)

// Reading one value into a field, with encoding/json's semantics for the
// field's type: the fixed-buffer types of jsontypes.go take any value and
// record what they saw (null makes them absent); a Go string, an object or an
// array takes only its own kind of value or null, which leaves it as it was
// (null empties a slice), and any other value is a type error.

// typeFault is a value of the wrong JSON kind for its field, as
// encoding/json's *UnmarshalTypeError has it.
type typeFault struct {
	set   bool
	field string // the field's JSON path without indices ("passengers.person"); "" for the message itself
	want  string // "string", "object" or "array"
	got   string // "string", "number", "bool", "object" or "array"
}

// kindOf names the JSON kind of the value whose first byte is c.
func kindOf(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

// mistype records a type error for field (the first one stands) and skips
// the value, whose first byte c is next.
func (r *reader) mistype(c byte, field, want string) {
	if !r.typ.set {
		r.typ = typeFault{set: true, field: field, want: want, got: kindOf(c)}
	}
	r.skip(c)
}

// opened says what open found.
type opened uint8

const (
	notOpened opened = iota // a syntax error, or a type error now recorded
	isNull                  // null, read
	isOpen                  // the object or array, entered
)

// open enters the object (want '{') or array ('[') that is field's value.
func (r *reader) open(want byte, field string) opened {
	switch c := r.value(); c {
	case 0:
	case want:
		if r.push() {
			return isOpen
		}
	case 'n':
		if r.scanLiteral("null") {
			return isNull
		}
	default:
		if want == '{' {
			r.mistype(c, field, "object")
		} else {
			r.mistype(c, field, "array")
		}
	}
	return notOpened
}

// skipValue reads past a value that no field takes.
func (r *reader) skipValue() {
	if c := r.value(); c != 0 {
		r.skip(c)
	}
}

// stringBytes reads the string that is next and returns its contents.
func (r *reader) stringBytes() ([]byte, bool) {
	raw, esc, ok := r.scanString()
	if esc && ok {
		raw = r.unescape(raw)
	}
	return raw, ok
}

func (r *reader) textValue(t *text) {
	switch c := r.value(); c {
	case 0:
	case '"':
		s, ok := r.stringBytes()
		switch {
		case !ok:
		case len(s) > textMax:
			t.st, t.n = textTooLong, 0
		default:
			t.st, t.n = textOK, uint8(copy(t.b[:], s))
		}
	case 'n':
		if r.scanLiteral("null") {
			t.st, t.n = textAbsent, 0
		}
	default:
		if r.skip(c) {
			t.st, t.n = textNotString, 0
		}
	}
}

func (r *reader) labelValue(l *label) {
	switch c := r.value(); c {
	case 0:
	case '"':
		if s, ok := r.stringBytes(); ok {
			*l = label{st: textOK, n: len(s), fault: textFault(s, kindProse)}
		}
	case 'n':
		if r.scanLiteral("null") {
			*l = label{st: textAbsent}
		}
	default:
		if r.skip(c) {
			*l = label{st: textNotString}
		}
	}
}

func (r *reader) numValue(n *num) {
	switch c := r.value(); c {
	case 0:
	case 'n':
		if r.scanLiteral("null") {
			*n = num{st: numAbsent}
		}
	case '"', '{', '[', 't', 'f':
		if r.skip(c) {
			*n = num{st: numNotNumber}
		}
	default:
		b, ok := r.scanNumber()
		if !ok {
			return
		}
		switch v, err := strconv.ParseFloat(string(b), 64); {
		case err == nil && !math.IsInf(v, 0) && !math.IsNaN(v):
			*n = num{v: v, st: numOK}
		case errors.Is(err, strconv.ErrRange):
			*n = num{st: numNotFinite}
		default:
			*n = num{st: numNotNumber}
		}
	}
}

// timeValue parses a time as written: an escape in it makes it fail.
func (r *reader) timeValue(t *jsonTime) {
	switch c := r.value(); c {
	case 0:
	case '"':
		if raw, _, ok := r.scanString(); ok {
			t.unix, t.st = parseRFC3339(raw)
		}
	case 'n':
		if r.scanLiteral("null") {
			*t = jsonTime{st: timeAbsent}
		}
	default:
		if r.skip(c) {
			*t = jsonTime{st: timeNotString}
		}
	}
}

// stringValue reads a string into a Go string (allocating it).
func (r *reader) stringValue(s *string, field string) {
	switch c := r.value(); c {
	case 0:
	case '"':
		if b, ok := r.stringBytes(); ok {
			*s = string(b)
		}
	case 'n':
		r.scanLiteral("null")
	default:
		r.mistype(c, field, "string")
	}
}

// array reads the array that is field's value into *p as encoding/json
// fills a slice: element i is decoded by elem into the i-th element, which
// keeps what an earlier array of the same message left there (*used counts
// the elements of the backing array this message has used; those past it
// are zero); the slice ends up as long as the array, and null or an empty
// array leave it empty with nothing kept.
func array[T any](r *reader, p *[]T, used *int, field string, elem func(*reader, *T)) {
	switch r.open('[', field) {
	case isNull:
		emptyScratch(p, used)
		return
	case notOpened:
		return
	}
	i := 0
	for ; r.elem(i); i++ {
		s := *p
		if i == len(s) {
			if i < cap(s) {
				s = s[:i+1]
			} else {
				var zero T
				s = append(s, zero)
			}
			*used = max(*used, i+1)
			*p = s
		}
		elem(r, &s[i])
	}
	if i == 0 {
		emptyScratch(p, used)
	} else if i < len(*p) {
		*p = (*p)[:i]
	}
}

// emptyScratch empties a slice decoded in scratch and zeroes what the message
// used of its backing array.
func emptyScratch[T any](p *[]T, used *int) {
	clear((*p)[:*used])
	*p, *used = (*p)[:0], 0
}

// keepScratch empties a slice decoded in scratch for the next message, and
// drops it if the message grew it past limit.
func keepScratch[T any](p []T, used *int, limit int) []T {
	emptyScratch(&p, used)
	if cap(p) > limit {
		return nil
	}
	return p
}
