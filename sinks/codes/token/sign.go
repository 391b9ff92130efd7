package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// SignerOptions configure a Signer. The zero value is valid but for Keys.
type SignerOptions struct {
	// Keys are the loaded signing keys, oldest first: the last signs new
	// tokens, all of them are published in the trust list (rotation).
	Keys []*Key
	// Issuer is the iss claim, the issuing province; default "CN".
	Issuer string
	// TTL is the longest lifetime of a token; default and maximum 24h.
	TTL time.Duration
}

func (o *SignerOptions) setDefaults() {
	if o.Issuer == "" {
		o.Issuer = "CN"
	}
	if o.TTL == 0 {
		o.TTL = maxLifetime
	}
}

func (o *SignerOptions) validate() error {
	if len(o.Keys) == 0 {
		return errors.New("signer: no signing key")
	}
	if o.TTL < time.Second || o.TTL > maxLifetime {
		return fmt.Errorf("signer: token lifetime %v must be from 1s to %v", o.TTL, maxLifetime)
	}
	return nil
}

// Signer issues tokens. It is safe for concurrent use.
type Signer struct {
	o         SignerOptions
	key       *Key
	protected []byte
	trust     *TrustList
	c         *codec
}

// NewSigner returns a signer that signs with the last of o.Keys.
func NewSigner(o SignerOptions) (*Signer, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	key := o.Keys[len(o.Keys)-1]
	return &Signer{o: o, key: key, protected: protectedHeader(key.ID), trust: NewTrustList(o.Keys...), c: newCodec()}, nil
}

// KeyID returns the kid of the key that signs new tokens.
func (s *Signer) KeyID() KeyID { return s.key.ID }

// TrustList returns the public keys of every loaded key.
func (s *Signer) TrustList() *TrustList { return s.trust }

// Issue signs a token for subject (the person key) issued at now: exp is
// now + TTL, brought forward to code.ReviewAt when that is still ahead of
// now, since the colour may change then. It returns the text and its claims.
func (s *Signer) Issue(now time.Time, subject string, code Code, cert *Certificate) (string, *Claims, error) {
	iat := now.Unix()
	exp := now.Add(s.o.TTL).Unix()
	if code.ReviewAt > iat && code.ReviewAt < exp {
		exp = code.ReviewAt
	}
	cl := &Claims{Issuer: s.o.Issuer, Subject: subject, IssuedAt: iat, Expires: exp,
		TokenID: make([]byte, 16), Code: code, Cert: cert}
	if cl.Code.Rules == nil {
		cl.Code.Rules = []string{}
	}
	if _, err := rand.Read(cl.TokenID); err != nil {
		return "", nil, fmt.Errorf("token id: %w", err)
	}
	payload, err := s.c.enc.Marshal(cl)
	if err != nil {
		return "", nil, fmt.Errorf("encode claims: %w", err)
	}
	text, err := s.c.sign(s.key, s.protected, payload)
	if err != nil {
		return "", nil, err
	}
	return text, cl, nil
}

// Verifier checks tokens offline. It is safe for concurrent use.
type Verifier struct {
	trust *TrustList
	revs  *Revocations
	c     *codec
	// Leeway is how far ahead of now an iat may be (clock skew); default 5 minutes.
	Leeway time.Duration
}

// NewVerifier returns a verifier of tokens signed by a key of trust and not
// revoked by revs (nil: nothing revoked).
func NewVerifier(trust *TrustList, revs *Revocations) *Verifier {
	return &Verifier{trust: trust, revs: revs, c: newCodec(), Leeway: 5 * time.Minute}
}

// Verify checks a token's form, that its kid is in the trust list, its
// signature, its validity at now, and the revocation list, in that order, and
// returns its claims and kid. The error wraps one of ErrMalformed,
// ErrUnknownKey, ErrSignature, ErrNotYetValid, ErrExpired, ErrRevokedKey or
// ErrRevokedToken; after the signature has verified, the claims are returned
// with the error, so a verifier can show what it refused.
func (v *Verifier) Verify(text string, now time.Time) (*Claims, KeyID, error) {
	payload, kid, err := v.c.open(text, v.trust)
	if err != nil {
		return nil, kid, err
	}
	var cl Claims
	if err := v.c.dec.Unmarshal(payload, &cl); err != nil {
		return nil, kid, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if len(cl.TokenID) == 0 || cl.Expires == 0 || cl.IssuedAt == 0 {
		return &cl, kid, fmt.Errorf("%w: claims cti, exp and iat are required", ErrMalformed)
	}
	t := now.Unix()
	switch {
	case cl.IssuedAt > now.Add(v.Leeway).Unix():
		return &cl, kid, fmt.Errorf("%w (iat %s)", ErrNotYetValid, time.Unix(cl.IssuedAt, 0).UTC().Format(time.RFC3339))
	case t >= cl.Expires:
		return &cl, kid, fmt.Errorf("%w (at %s)", ErrExpired, time.Unix(cl.Expires, 0).UTC().Format(time.RFC3339))
	case v.revs.HasKey(kid):
		return &cl, kid, fmt.Errorf("%w (kid %s)", ErrRevokedKey, kid)
	case v.revs.HasToken(cl.TokenID):
		return &cl, kid, ErrRevokedToken
	}
	return &cl, kid, nil
}
