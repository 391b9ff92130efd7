package token

import (
	"testing"
	"time"
)

func BenchmarkIssue(b *testing.B) {
	k, _ := GenerateKey()
	s, _ := NewSigner(SignerOptions{Keys: []*Key{k}})
	code := Code{Colour: "red", Level: 2, Policy: "domestic@1", Version: 3, Rules: []string{"close-contact"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Issue(now, "00112233445566778899aabbccddeeff", code, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := GenerateKey()
	s, _ := NewSigner(SignerOptions{Keys: []*Key{k}})
	code := Code{Colour: "red", Level: 2, Policy: "domestic@1", Version: 3, Rules: []string{"close-contact"}}
	now := time.Now()
	text, _, _ := s.Issue(now, "00112233445566778899aabbccddeeff", code, nil)
	v := NewVerifier(s.TrustList(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Verify(text, now); err != nil {
			b.Fatal(err)
		}
	}
}
