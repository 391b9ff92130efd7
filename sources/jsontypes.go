package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// The field types below decode JSON values without allocating and never fail:
// they record what they saw (absent, wrong JSON type, malformed) so that
// validation can reject the message with the field's name and a clear reason.

// textMax is the longest string a text field holds (text.go's limit of
// identifiers and codes).
const textMax = maxIdent

type textState uint8

const (
	textAbsent    textState = iota // field missing or null
	textOK                         // a string of at most textMax bytes (possibly empty)
	textNotString                  // a JSON value that is not a string
	textTooLong                    // a string longer than textMax bytes
)

// text is a short JSON string kept in a fixed buffer: codes, enums, and the
// raw document number, which therefore never becomes a Go string.
type text struct {
	st textState
	n  uint8
	b  [textMax]byte
}

func (t *text) UnmarshalJSON(b []byte) error {
	s, st := jsonString(b)
	t.st, t.n = st, 0
	if st == textOK {
		if len(s) > textMax {
			t.st = textTooLong
			return nil
		}
		t.n = uint8(copy(t.b[:], s))
	}
	return nil
}

func (t *text) bytes() []byte { return t.b[:t.n] }

// jsonString returns the contents of the JSON string literal b. Strings with
// escapes are unquoted by encoding/json (rare upstream; allocates).
func jsonString(b []byte) ([]byte, textState) {
	if len(b) == 0 || string(b) == "null" {
		return nil, textAbsent
	}
	if len(b) < 2 || b[0] != '"' {
		return nil, textNotString
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var u string
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, textNotString
		}
		return []byte(u), textOK
	}
	return s, textOK
}

// label is an optional free-text field that is checked but not carried
// (venue.name, test.lab): only what validation needs is kept.
type label struct {
	st    textState // textOK, textAbsent or textNotString; never textTooLong
	n     int       // length in bytes
	fault string    // textFault(value, kindProse), "" if none
}

func (l *label) UnmarshalJSON(b []byte) error {
	s, st := jsonString(b)
	*l = label{st: st, n: len(s)}
	if st == textOK {
		l.fault = textFault(s, kindProse)
	}
	return nil
}

type numState uint8

const (
	numAbsent    numState = iota // field missing or null
	numOK                        // a finite number
	numNotNumber                 // a JSON value that is not a number
	numNotFinite                 // a number out of float64 range (1e999)
)

// num is an optional JSON number.
type num struct {
	v  float64
	st numState
}

func (n *num) UnmarshalJSON(b []byte) error {
	n.v, n.st = 0, numNotNumber
	switch {
	case len(b) == 0 || string(b) == "null":
		n.st = numAbsent
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		v, err := strconv.ParseFloat(string(b), 64)
		switch {
		case err == nil && !math.IsInf(v, 0) && !math.IsNaN(v):
			n.v, n.st = v, numOK
		case errors.Is(err, strconv.ErrRange):
			n.st = numNotFinite
		}
	}
	return nil
}

type timeState uint8

const (
	timeAbsent    timeState = iota // field missing or null
	timeOK                         // parsed; unix holds the instant
	timeNotString                  // a JSON value that is not a string
	timeSyntax                     // a string that is not an RFC 3339 time
	timeNoOffset                   // a date-time without "Z" or a ±hh:mm offset
)

// jsonTime is an RFC 3339 time with offset, as Unix seconds.
type jsonTime struct {
	unix int64
	st   timeState
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	t.unix = 0
	switch {
	case len(b) == 0 || string(b) == "null":
		t.st = timeAbsent
	case len(b) < 2 || b[0] != '"':
		t.st = timeNotString
	default:
		t.unix, t.st = parseRFC3339(b[1 : len(b)-1])
	}
	return nil
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm), the form
// time.RFC3339 accepts, into Unix seconds (the fraction is truncated). It does
// not allocate; a JSON escape anywhere makes it fail.
func parseRFC3339(s []byte) (int64, timeState) {
	const base = len("2006-01-02T15:04:05")
	if len(s) < base || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, timeSyntax
	}
	days, ok := parseDate(s[:10])
	hour, ok1 := num2(s[11:13], 23)
	minute, ok2 := num2(s[14:16], 59)
	sec, ok3 := num2(s[17:19], 59)
	if !ok || !ok1 || !ok2 || !ok3 {
		return 0, timeSyntax
	}
	s = s[base:]
	if len(s) > 0 && s[0] == '.' {
		n := 1
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 1 {
			return 0, timeSyntax
		}
		s = s[n:]
	}
	unix := days*86400 + int64(hour*3600+minute*60+sec)
	switch {
	case len(s) == 0:
		return 0, timeNoOffset
	case len(s) == 1 && s[0] == 'Z':
		return unix, timeOK
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		oh, ok1 := num2(s[1:3], 23)
		om, ok2 := num2(s[4:6], 59)
		if !ok1 || !ok2 {
			return 0, timeSyntax
		}
		off := int64(oh*3600 + om*60)
		if s[0] == '+' {
			return unix - off, timeOK
		}
		return unix + off, timeOK
	}
	return 0, timeSyntax
}

// parseDate parses YYYY-MM-DD into days since 1970-01-01.
func parseDate(s []byte) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y1, ok1 := num2(s[0:2], 99)
	y2, ok2 := num2(s[2:4], 99)
	m, ok3 := num2(s[5:7], 12)
	d, ok4 := num2(s[8:10], 31)
	y := y1*100 + y2
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// num2 parses two ASCII digits no greater than max.
func num2(s []byte, max int) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	v := int(s[0]-'0')*10 + int(s[1]-'0')
	return v, v <= max
}

// daysFromCivil returns the days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar (H. Hinnant's algorithm), for years 0..9999.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
