package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2020, 3, 16, 10, 0, 0, 0, time.UTC)

func newTestSigner(t *testing.T, keys ...*Key) *Signer {
	t.Helper()
	if len(keys) == 0 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = []*Key{k}
	}
	s, err := NewSigner(SignerOptions{Keys: keys, Issuer: "CN-ZJ"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testCode = Code{Colour: "red", Level: 2, Policy: "domestic@1", Version: 17, Rules: []string{"close-contact"}}

func TestToken_RoundTrip(t *testing.T) {
	s := newTestSigner(t)
	cert := &Certificate{Tests: []Test{{Kind: "pcr", Result: "negative", SampledAt: t0.Unix() - 3600}},
		Vaccinations: []Vaccination{{Product: "CoronaVac", Dose: 2, Date: "2021-03-01"}}}
	text, issued, err := s.Issue(t0, "9f1c00112233445566778899aabbccdd", testCode, cert)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "HC1:") {
		t.Fatalf("token %q lacks the HC1: prefix", text)
	}
	for _, c := range text[4:] {
		if !strings.ContainsRune(base45Alphabet, c) {
			t.Fatalf("token has %q outside the base45 alphabet", c)
		}
	}
	v := NewVerifier(s.TrustList(), nil)
	got, kid, err := v.Verify(text, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if kid != s.KeyID() {
		t.Errorf("kid %s, want %s", kid, s.KeyID())
	}
	if got.Issuer != "CN-ZJ" || got.Subject != issued.Subject || got.Code.Colour != "red" || got.Code.Version != 17 ||
		got.Code.Rules[0] != "close-contact" || !bytes.Equal(got.TokenID, issued.TokenID) || len(got.TokenID) != 16 {
		t.Errorf("claims %+v, want %+v", got, issued)
	}
	if got.Cert == nil || got.Cert.Tests[0] != cert.Tests[0] || got.Cert.Vaccinations[0] != cert.Vaccinations[0] {
		t.Errorf("certificate %+v, want %+v", got.Cert, cert)
	}
	if got.IssuedAt != t0.Unix() || got.Expires != t0.Add(24*time.Hour).Unix() {
		t.Errorf("iat %d exp %d, want %d and 24 h later", got.IssuedAt, got.Expires, t0.Unix())
	}
}

func TestToken_ExpiryRespectsReviewAndTTL(t *testing.T) {
	s := newTestSigner(t)
	f := func(reviewAt int64, ttl time.Duration, want int64) {
		t.Helper()
		s2 := s
		if ttl != 0 {
			var err error
			if s2, err = NewSigner(SignerOptions{Keys: []*Key{s.key}, TTL: ttl}); err != nil {
				t.Fatal(err)
			}
		}
		c := testCode
		c.ReviewAt = reviewAt
		_, cl, err := s2.Issue(t0, "k", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cl.Expires != want {
			t.Errorf("review %d ttl %v: exp %d, want %d", reviewAt, ttl, cl.Expires, want)
		}
	}
	f(0, 0, t0.Unix()+86400)
	f(t0.Unix()+3600, 0, t0.Unix()+3600)     // review ahead: exp brought forward
	f(t0.Unix()-3600, 0, t0.Unix()+86400)    // review already past: ignored
	f(t0.Unix()+2*86400, 0, t0.Unix()+86400) // review after the TTL: TTL
	f(t0.Unix()+3600, 10*time.Minute, t0.Unix()+600)
	if _, err := NewSigner(SignerOptions{Keys: []*Key{s.key}, TTL: 25 * time.Hour}); err == nil {
		t.Error("a 25 h lifetime was accepted")
	}
}

func TestToken_Refusals(t *testing.T) {
	s := newTestSigner(t)
	text, cl, err := s.Issue(t0, "k", testCode, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestSigner(t)
	otherText, _, _ := other.Issue(t0, "k", testCode, nil)
	trust := s.TrustList()

	// A tampered token: flip a payload byte inside the COSE structure and
	// re-wrap it, so that only the signature can catch it.
	tampered := retamper(t, s, text)

	revoked := &Revocations{}
	revoked.AddToken(b64(cl.TokenID))
	revokedKey := &Revocations{}
	revokedKey.AddKey(s.KeyID().String())

	f := func(name, tok string, revs *Revocations, at time.Time, want error) {
		t.Helper()
		_, _, err := NewVerifier(trust, revs).Verify(tok, at)
		if !errors.Is(err, want) {
			t.Errorf("%s: err %v, want %v", name, err, want)
		}
	}
	f("tampered", tampered, nil, t0, ErrSignature)
	f("expired", text, nil, t0.Add(24*time.Hour), ErrExpired)
	f("not yet valid", text, nil, t0.Add(-time.Hour), ErrNotYetValid)
	f("revoked token", text, revoked, t0, ErrRevokedToken)
	f("revoked kid", text, revokedKey, t0, ErrRevokedKey)
	f("unknown kid", otherText, nil, t0, ErrUnknownKey)
	f("no prefix", strings.TrimPrefix(text, "HC1:"), nil, t0, ErrMalformed)
	f("bad base45", "HC1:a", nil, t0, ErrMalformed)
	f("not zlib", "HC1:"+EncodeBase45([]byte("hello")), nil, t0, ErrMalformed)
	f("valid", text, &Revocations{}, t0, nil)
}

// retamper decodes a token, changes the payload's colour, and re-encodes it
// with the original signature.
func retamper(t *testing.T, s *Signer, text string) string {
	t.Helper()
	c := s.c
	z, _ := DecodeBase45(text[4:])
	msg := inflate(t, z)
	i := bytes.Index(msg, []byte("red"))
	if i < 0 {
		t.Fatal("colour not found in the COSE bytes")
	}
	copy(msg[i:], "tan")
	return c.wrap(msg)
}

func TestTrustList_JSONRoundTrip(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	s := newTestSigner(t, k1, k2)
	if s.KeyID() != k2.ID {
		t.Errorf("signing kid %s, want the last key %s", s.KeyID(), k2.ID)
	}
	b, err := s.TrustList().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	tl, err := ParseTrustList(b)
	if err != nil {
		t.Fatal(err)
	}
	if tl.Len() != 2 {
		t.Fatalf("%d keys, want 2", tl.Len())
	}
	old, _ := NewSigner(SignerOptions{Keys: []*Key{k1}})
	text, _, _ := old.Issue(t0, "k", testCode, nil)
	if _, _, err := NewVerifier(tl, nil).Verify(text, t0); err != nil {
		t.Errorf("a token of the older, still trusted key: %v", err)
	}
	// A kid that does not match its key is refused.
	bad := bytes.Replace(b, []byte(k1.ID.String()), []byte(k2.ID.String()), 1)
	if _, err := ParseTrustList(bad); err == nil {
		t.Error("a trust list with a mismatched kid was accepted")
	}
}

func TestKeys_PEMRoundTrip(t *testing.T) {
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	p1, _ := k1.MarshalPEM()
	p2, _ := k2.MarshalPEM()
	keys, err := ParseKeysPEM(append(p1, p2...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID {
		t.Errorf("parsed %d keys, ids do not match", len(keys))
	}
	if _, err := ParseKeysPEM([]byte("not pem")); err == nil {
		t.Error("garbage parsed as a key")
	}
}

func TestRevocations_Signed(t *testing.T) {
	s := newTestSigner(t)
	r := &Revocations{}
	r.AddToken("AAECAwQFBgcICQoLDA0ODw")
	if added, _ := r.AddToken("AAECAwQFBgcICQoLDA0ODw"); added {
		t.Error("a duplicate token id was added")
	}
	signed, err := s.SignRevocations(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSignedRevocations(signed, s.TrustList())
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt != t0.Unix() || len(got.TokenIDs) != 1 || !got.HasToken([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("list %+v", got)
	}
	if _, err := ParseSignedRevocations(bytes.Replace(signed, []byte(`"payload":"`), []byte(`"payload":"e30`), 1), s.TrustList()); err == nil {
		t.Error("a tampered list verified")
	}
	if _, err := ParseSignedRevocations(signed, newTestSigner(t).TrustList()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("list of an untrusted key: %v", err)
	}
}
