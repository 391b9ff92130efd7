package sources

import (
	"unicode/utf8"
)

// The one home of what a string field may hold: the limits on its length and
// the characters refused in it. The schemas (sources/schema) state the same
// rules as maxLength and the patterns of their "identifier" and "prose" defs.

// Field limits, in bytes of UTF-8. A schema's maxLength counts characters, so
// it is the same bound for ASCII and a looser one otherwise.
const (
	maxEventID = 256  // event_id
	maxIdent   = 64   // source, officer, approver, venue.id, vaccine.product, every code (textMax)
	maxName    = 256  // venue.name, test.lab
	maxReason  = 2000 // an override's reason
)

// textKind says which characters a field refuses.
type textKind uint8

const (
	// kindIdent is an identifier or code (event_id, source, venue.id,
	// officer, ...): it refuses control, bidirectional-control, line
	// separator and invisible formatting characters, and U+FFFD.
	kindIdent textKind = iota
	// kindProse is free text shown to people (reason, venue.name, test.lab):
	// it refuses the same except invisible formatting characters, which some
	// scripts and emoji need.
	kindProse
)

// textFault returns why b may not be the value of a field of kind k, as the
// end of a rejection sentence, or "" if it may.
func textFault(b []byte, k textKind) string {
	for i := 0; i < len(b); {
		if ch := b[i]; ch >= 0x20 && ch < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if f := runeFault(r, size, k); f != "" {
			return f
		}
		i += size
	}
	return ""
}

// textFaultString is textFault for a string.
func textFaultString(s string, k textKind) string {
	for i := 0; i < len(s); {
		if ch := s[i]; ch >= 0x20 && ch < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if f := runeFault(r, size, k); f != "" {
			return f
		}
		i += size
	}
	return ""
}

func runeFault(r rune, size int, k textKind) string {
	switch {
	case r == utf8.RuneError && size <= 1:
		return "is not valid UTF-8"
	case r == utf8.RuneError:
		return "has a replacement character (U+FFFD), a sign of broken encoding upstream"
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return "has a control character"
	case r == 0x2028 || r == 0x2029:
		return "has a line or paragraph separator"
	case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return "has a bidirectional control character, which can make text display differently from what it holds"
	case k == kindIdent && (r == 0x00ad || r == 0x180e || (r >= 0x200b && r <= 0x200d) || (r >= 0x2060 && r <= 0x2064) || r == 0xfeff):
		return "has an invisible formatting character"
	}
	return ""
}

// invalidUTF8At returns the offset of the first byte of b that is not valid
// UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}
