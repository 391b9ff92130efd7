package sources

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The tokens of JSON for the reader of jsonscan.go: strings, numbers and
// literals, their escapes, and skipping a whole value.

// scanString reads the string whose opening quote is next and returns its
// contents as written, and whether they hold escapes.
func (r *reader) scanString() (raw []byte, esc, ok bool) {
	d := r.data
	start := r.i + 1
	j := start
	for {
		// Skip ordinary bytes, eight at a time while there are eight.
		for j+8 <= len(d) {
			if m := specialBytes(binary.LittleEndian.Uint64(d[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(d) && d[j] >= 0x20 && d[j] != '"' && d[j] != '\\' {
			j++
		}
		if j >= len(d) {
			r.i = j
			r.fail("")
			return nil, false, false
		}
		switch d[j] {
		case '"':
			r.i = j + 1
			return d[start:j], esc, true
		case '\\':
			esc = true
			var ctx string
			if j, ctx = escapeEnd(d, j+1); ctx != "" {
				r.i = j
				r.failIn(ctx)
				return nil, false, false
			}
		default:
			r.i = j
			r.fail("in string literal")
			return nil, false, false
		}
	}
}

// specialBytes has the high bit set of the first byte of x (little-endian)
// that ends the ordinary run of a string: a control character, '"' or '\\'
// (higher bits may be set too).
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}

// escapeEnd checks the escape after a backslash, d[j] on: it returns the
// offset past it, or the offset of the byte refused and the error's context.
func escapeEnd(d []byte, j int) (int, string) {
	if j < len(d) {
		switch d[j] {
		case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			return j + 1, ""
		case 'u':
			for k := j + 1; k < j+5; k++ {
				if k >= len(d) || !isHex(d[k]) {
					return k, `in \u hexadecimal character escape`
				}
			}
			return j + 5, ""
		}
	}
	return j, "in string escape code"
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber reads the number that is next (its first byte is '-' or a
// digit) and returns it as written.
func (r *reader) scanNumber() ([]byte, bool) {
	d, start, j := r.data, r.i, r.i
	digits := func() {
		for j < len(d) && isDigit(d[j]) {
			j++
		}
	}
	if d[j] == '-' {
		if j++; j >= len(d) || !isDigit(d[j]) {
			r.i = j
			r.failIn("in numeric literal")
			return nil, false
		}
	}
	if d[j] == '0' {
		j++
	} else {
		digits()
	}
	if j < len(d) && d[j] == '.' {
		if j++; j >= len(d) || !isDigit(d[j]) {
			r.i = j
			r.failIn("after decimal point in numeric literal")
			return nil, false
		}
		digits()
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		if j++; j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		if j >= len(d) || !isDigit(d[j]) {
			r.i = j
			r.failIn("in exponent of numeric literal")
			return nil, false
		}
		digits()
	}
	r.i = j
	return d[start:j], true
}

// scanLiteral reads true, false or null (word), whose first byte is next.
func (r *reader) scanLiteral(word string) bool {
	for k := 1; k < len(word); k++ {
		if j := r.i + k; j >= len(r.data) || r.data[j] != word[k] {
			r.i = j
			r.failIn("in literal " + word + " (expecting '" + word[k:k+1] + "')")
			return false
		}
	}
	r.i += len(word)
	return true
}

// scalar reads the string, number or literal whose first byte c is next.
func (r *reader) scalar(c byte) bool {
	switch c {
	case '"':
		_, _, ok := r.scanString()
		return ok
	case 't':
		return r.scanLiteral("true")
	case 'f':
		return r.scanLiteral("false")
	case 'n':
		return r.scanLiteral("null")
	}
	_, ok := r.scanNumber()
	return ok
}

// skip reads past the value whose first byte c is next, checking its syntax
// to any depth without recursion: nest holds what is open.
func (r *reader) skip(c byte) bool {
	base := r.depth
values:
	for {
		// c starts a value.
		if c == '{' || c == '[' {
			if !r.push() {
				return false
			}
			bit := uint64(1) << ((r.depth - base - 1) % 64)
			w := &r.nest[(r.depth-base-1)/64]
			if c == '{' {
				*w |= bit
			} else {
				*w &^= bit
			}
			if r.ws(); r.i < len(r.data) && r.data[r.i] == c+2 { // '}' or ']'
				r.i++
				r.depth--
			} else {
				if c == '{' {
					if _, _, ok := r.name(); !ok {
						return false
					}
				}
				if c = r.value(); c == 0 {
					return false
				}
				continue
			}
		} else if !r.scalar(c) {
			return false
		}
		// A value ended: close what it ends, or find the next value.
		for r.depth > base {
			l := r.depth - base - 1
			object := r.nest[l/64]&(1<<(l%64)) != 0
			if r.ws(); r.i >= len(r.data) {
				r.fail("")
				return false
			}
			switch ch := r.data[r.i]; {
			case ch == ',':
				r.i++
				if object {
					if r.ws(); !r.nameOK() {
						return false
					}
				}
				if c = r.value(); c == 0 {
					return false
				}
				continue values
			case object && ch == '}', !object && ch == ']':
				r.i++
				r.depth--
			case object:
				r.fail("after object key:value pair")
				return false
			default:
				r.fail("after array element")
				return false
			}
		}
		return true
	}
}

// nameOK is name for a member whose name does not matter.
func (r *reader) nameOK() bool {
	_, _, ok := r.name()
	return ok
}

// unescape returns the contents of a string with escapes as encoding/json
// unquotes them (a lone or mismatched surrogate becomes U+FFFD), in buf.
// The escapes were checked by scanString, and the input is valid UTF-8.
func (r *reader) unescape(s []byte) []byte {
	b := r.buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		c = s[i+1]
		i += 2
		switch c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			rr := hex4(s[i:])
			i += 4
			if utf16.IsSurrogate(rr) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(rr, hex4(s[i+2:])); dec != unicode.ReplacementChar {
						b = utf8.AppendRune(b, dec)
						i += 6
						continue
					}
				}
				rr = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, rr)
		default: // '"', '\\', '/'
			b = append(b, c)
		}
	}
	r.buf, r.escaped = b, true
	return b
}

// hex4 decodes four hex digits, checked by scanString.
func hex4(s []byte) rune {
	var v rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			v = v<<4 | rune(c-'0')
		case c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			v = v<<4 | rune(c-'a'+10)
		}
	}
	return v
}
