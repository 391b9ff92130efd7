package token

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// The test vectors of RFC 9285 §4.3 and §4.4.
func TestBase45_RFCVectors(t *testing.T) {
	f := func(plain, enc string) {
		t.Helper()
		if got := EncodeBase45([]byte(plain)); got != enc {
			t.Errorf("EncodeBase45(%q) = %q, want %q", plain, got, enc)
		}
		got, err := DecodeBase45(enc)
		if err != nil || string(got) != plain {
			t.Errorf("DecodeBase45(%q) = %q, %v, want %q", enc, got, err, plain)
		}
	}
	f("AB", "BB8")
	f("Hello!!", "%69 VD92EX0")
	f("base-45", "UJCLQE7W581")
	f("ietf!", "QED8WEX0")
	f("", "")
}

func TestBase45_RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		got, err := DecodeBase45(EncodeBase45(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
}

func TestBase45_Refuses(t *testing.T) {
	for _, s := range []string{"A", "BB8A", "GGW", "abc", "BB\x00", "::"} {
		if _, err := DecodeBase45(s); !errors.Is(err, ErrBase45) {
			t.Errorf("DecodeBase45(%q): err %v, want ErrBase45", s, err)
		}
	}
}

func FuzzDecodeBase45(f *testing.F) {
	f.Add("QED8WEX0")
	f.Add("%69 VD92EX0")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase45(s)
		if err != nil {
			return
		}
		if got := EncodeBase45(b); got != s {
			t.Fatalf("re-encoding %q gives %q", s, got)
		}
	})
}
