package token

import (
	"errors"
	"fmt"
)

// base45Alphabet is RFC 9285's alphabet: the 45 characters of QR code
// alphanumeric mode, so a base45 text fills a QR code in that compact mode.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// base45Value maps a character to its value, or -1.
var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// ErrBase45 is wrapped by every base45 decoding error.
var ErrBase45 = errors.New("invalid base45")

// AppendBase45 appends the base45 encoding of src to dst (RFC 9285 §4): each
// pair of bytes, taken as a big-endian 16-bit number n, becomes three
// characters c, d, e with n = c + 45·d + 45²·e; a last single byte becomes two.
func AppendBase45(dst, src []byte) []byte {
	for i := 0; i+1 < len(src); i += 2 {
		n := int(src[i])<<8 | int(src[i+1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(src)%2 == 1 {
		n := int(src[len(src)-1])
		dst = append(dst, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return dst
}

// EncodeBase45 returns the base45 encoding of src.
func EncodeBase45(src []byte) string {
	return string(AppendBase45(make([]byte, 0, (len(src)+1)/2*3), src))
}

// DecodeBase45 decodes RFC 9285 base45 text. It refuses characters outside
// the alphabet, a dangling single character, and triples or pairs whose value
// exceeds what two or one bytes hold.
func DecodeBase45(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves a single character", ErrBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		j := min(i+3, len(s))
		n := 0
		for k := j - 1; k >= i; k-- {
			v := base45Value[s[k]]
			if v < 0 {
				return nil, fmt.Errorf("%w: character at %d is outside the alphabet", ErrBase45, k)
			}
			n = n*45 + int(v)
		}
		if j-i == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: triple at %d exceeds 16 bits", ErrBase45, i)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("%w: pair at %d exceeds 8 bits", ErrBase45, i)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
