package sources

// The field types below take any JSON value without allocating (jsonvalues.go
// reads them) and never fail: they record what they saw (absent, wrong JSON
// type, malformed) so that validation can reject the message with the
// field's name and a clear reason.

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

func (t *text) bytes() []byte { return t.b[:t.n] }

// label is an optional free-text field that is checked but not carried
// (venue.name, test.lab): only what validation needs is kept.
type label struct {
	st    textState // textOK, textAbsent or textNotString; never textTooLong
	n     int       // length in bytes
	fault string    // textFault(value, kindProse), "" if none
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
