package sources

import (
	"fmt"
	"math"
	"strings"

	"healthcode/scoring"
)

// Field checks shared by several streams. Errors name the field and the rule,
// never the value.

// person validates a person object and returns its key. Field names in
// rejections get the passenger prefix from c.passenger.
func (c *call) person(p *personJSON) (scoring.PersonKey, *RejectError) {
	var k scoring.PersonKey
	if p.IDType.st == textAbsent && p.IDNumber.st == textAbsent {
		return k, c.reject(RejectMissing, ("person"), "is required, with id_type and id_number")
	}
	tb, r := c.text(("person.id_type"), &p.IDType, true)
	if r != nil {
		return k, r
	}
	t := idTypeIndex(tb)
	if t < 0 {
		return k, c.reject(RejectInvalid, ("person.id_type"), "must be one of "+strings.Join(idTypes[:], ", "))
	}
	raw, r := c.text(("person.id_number"), &p.IDNumber, true)
	if r != nil {
		return k, r
	}
	num, ok := normaliseInto(c.sc.num[:0], raw)
	switch {
	case !ok:
		return k, c.reject(RejectInvalid, ("person.id_number"), "has a character that is not printable ASCII")
	case len(num) == 0:
		return k, c.reject(RejectMissing, ("person.id_number"), "is empty once spaces and hyphens are removed")
	}
	if t == 0 { // resident_id
		if err := CheckResidentID(string(num)); err != nil {
			return k, c.reject(RejectInvalid, ("person.id_number"), err.Error())
		}
	}
	nat, r := c.text(("person.nationality"), &p.Nationality, false)
	if r != nil {
		return k, r
	}
	if nat != nil && !isAlpha3(nat) {
		return k, c.reject(RejectInvalid, ("person.nationality"), "must be an ISO 3166-1 alpha-3 code like CHN")
	}
	c.num = num
	mac := c.sc.mac
	mac.Reset()
	mac.Write(c.d.prefixes[t])
	mac.Write(num)
	copy(k[:], mac.Sum(c.sc.sum[:0]))
	return k, nil
}

func idTypeIndex(b []byte) int {
	for i, t := range idTypes {
		if string(b) == t {
			return i
		}
	}
	return -1
}

// normaliseInto appends NormaliseIDNumber(raw) to dst for printable ASCII
// input; ok is false for any other byte.
func normaliseInto(dst, raw []byte) ([]byte, bool) {
	for _, ch := range raw {
		switch {
		case ch == ' ' || ch == '-':
		case ch >= 'a' && ch <= 'z':
			dst = append(dst, ch-'a'+'A')
		case ch > ' ' && ch < 0x7f:
			dst = append(dst, ch)
		default:
			return dst, false
		}
	}
	return dst, true
}

func isAlpha3(b []byte) bool {
	return len(b) == 3 && isUpper(b[0]) && isUpper(b[1]) && isUpper(b[2])
}

func isUpper(ch byte) bool { return ch >= 'A' && ch <= 'Z' }

func isDigits(b []byte) bool { return allDigits(string(b)) }

// isRegionCode reports whether b looks like a GB/T 2260 code: six digits, the
// first two a province-level division (11-15, 21-23, 31-37, 41-46, 50-54,
// 61-65, 71, 81, 82).
func isRegionCode(b []byte) bool {
	if len(b) != 6 || !isDigits(b) {
		return false
	}
	switch p := int(b[0]-'0')*10 + int(b[1]-'0'); {
	case p >= 11 && p <= 15, p >= 21 && p <= 23, p >= 31 && p <= 37, p >= 41 && p <= 46,
		p >= 50 && p <= 54, p >= 61 && p <= 65, p == 71, p == 81, p == 82:
		return true
	}
	return false
}

// latLng validates a coordinate pair; both must be present.
func (c *call) latLng(latField string, lat *num, lngField string, lng *num) (float64, float64, *RejectError) {
	for _, f := range [...]struct {
		name string
		n    *num
		max  float64
	}{{latField, lat, 90}, {lngField, lng, 180}} {
		switch f.n.st {
		case numAbsent:
			return 0, 0, c.reject(RejectMissing, f.name, "is required")
		case numNotNumber:
			return 0, 0, c.reject(RejectMalformed, f.name, "must be a number")
		}
		if f.n.st == numNotFinite || math.Abs(f.n.v) > f.max {
			return 0, 0, c.reject(RejectInvalid, f.name, fmt.Sprintf("must be between -%g and %g degrees", f.max, f.max))
		}
	}
	return lat.v, lng.v, nil
}

// seatRow parses a seat: ^[1-9][0-9]{0,2}[A-K]$ gives the row, "CREW" gives
// scoring.RowCrew.
func seatRow(b []byte) (int16, bool) {
	if string(b) == "CREW" {
		return scoring.RowCrew, true
	}
	n := len(b)
	if n < 2 || n > 4 || b[0] < '1' || b[0] > '9' || b[n-1] < 'A' || b[n-1] > 'K' || !isDigits(b[:n-1]) {
		return 0, false
	}
	return int16(atoi(string(b[:n-1]))), true
}

// flightNumber upper-cases a flight number in place and checks it: an airline
// designator (two letters or digits, or three letters) then 1-4 digits and an
// optional suffix letter.
func flightNumber(b []byte) bool {
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
	}
	alnum := func(ch byte) bool { return isUpper(ch) || (ch >= '0' && ch <= '9') }
	if len(b) > 0 && isUpper(b[len(b)-1]) {
		b = b[:len(b)-1] // suffix
	}
	if len(b) < 3 || !alnum(b[0]) || !alnum(b[1]) {
		return false
	}
	rest := b[2:]
	if isUpper(rest[0]) && isUpper(b[0]) && isUpper(b[1]) {
		rest = rest[1:] // ICAO three-letter designator
	}
	return len(rest) >= 1 && len(rest) <= 4 && isDigits(rest)
}
