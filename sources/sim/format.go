package sim

import "strconv"

// Allocation-free formatting of the few value shapes messages carry. Every
// time is written in China Standard Time (+08:00) whatever Config.Start's
// location.

const cstOffset = 8 * 3600

// appendUint appends v in decimal, zero-padded to width digits.
func appendUint(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + v)
	return append(b, tmp[i:]...)
}

func itoa(v int) string { return strconv.Itoa(v) }

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// appendDate appends the +08:00 calendar date of a Unix time (2020-03-16).
func appendDate(b []byte, unix int64) []byte {
	y, m, d := civilFromDays(floorDiv(unix+cstOffset, 86400))
	b = appendUint(b, uint64(y), 4)
	b = append(b, '-')
	b = appendUint(b, uint64(m), 2)
	b = append(b, '-')
	return appendUint(b, uint64(d), 2)
}

// appendTime appends a Unix time as RFC 3339 in +08:00.
func appendTime(b []byte, unix int64) []byte {
	b = appendDate(b, unix)
	sod := (unix + cstOffset) - floorDiv(unix+cstOffset, 86400)*86400
	b = append(b, 'T')
	b = appendUint(b, uint64(sod/3600), 2)
	b = append(b, ':')
	b = appendUint(b, uint64(sod/60%60), 2)
	b = append(b, ':')
	b = appendUint(b, uint64(sod%60), 2)
	return append(b, "+08:00"...)
}

// appendFixed appends v/10^digits with exactly digits decimals (302741, 4 ->
// 30.2741; 379, 1 -> 37.9).
func appendFixed(b []byte, v int64, digits int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	p := int64(1)
	for range digits {
		p *= 10
	}
	b = strconv.AppendInt(b, v/p, 10)
	b = append(b, '.')
	return appendUint(b, uint64(v%p), digits)
}
