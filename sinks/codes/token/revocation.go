package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// Revocations is the revocation list: token ids (cti) and key ids, each in
// base64url without padding. The operator's file is this JSON, unsigned; the
// service publishes it signed (see Sign).
type Revocations struct {
	IssuedAt int64    `json:"issued_at,omitempty"` // Unix seconds; set when signed
	TokenIDs []string `json:"token_ids"`
	KeyIDs   []string `json:"kids"`
}

// ParseRevocations parses the unsigned JSON list, checking every entry.
func ParseRevocations(b []byte) (*Revocations, error) {
	var r Revocations
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse revocations: %w", err)
	}
	for _, s := range r.TokenIDs {
		if b, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(b) == 0 {
			return nil, errors.New("parse revocations: a token id is not base64url without padding")
		}
	}
	for _, s := range r.KeyIDs {
		if _, err := ParseKeyID(s); err != nil {
			return nil, fmt.Errorf("parse revocations: %w", err)
		}
	}
	if r.TokenIDs == nil {
		r.TokenIDs = []string{}
	}
	if r.KeyIDs == nil {
		r.KeyIDs = []string{}
	}
	return &r, nil
}

// HasToken reports whether token id cti is revoked. A nil list revokes nothing.
func (r *Revocations) HasToken(cti []byte) bool {
	return r != nil && slices.Contains(r.TokenIDs, base64.RawURLEncoding.EncodeToString(cti))
}

// HasKey reports whether kid is revoked.
func (r *Revocations) HasKey(kid KeyID) bool {
	return r != nil && slices.Contains(r.KeyIDs, kid.String())
}

// AddToken adds a token id (base64url) unless present; it reports whether it added.
func (r *Revocations) AddToken(id string) (bool, error) {
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) == 0 {
		return false, errors.New("token id must be base64url without padding")
	}
	if slices.Contains(r.TokenIDs, id) {
		return false, nil
	}
	r.TokenIDs = append(r.TokenIDs, id)
	return true, nil
}

// AddKey adds a kid unless present; it reports whether it added.
func (r *Revocations) AddKey(kid string) (bool, error) {
	if _, err := ParseKeyID(kid); err != nil {
		return false, err
	}
	if slices.Contains(r.KeyIDs, kid) {
		return false, nil
	}
	r.KeyIDs = append(r.KeyIDs, kid)
	return true, nil
}

// jws is the flattened JSON serialization of a JWS (RFC 7515 §7.2.2).
type jws struct {
	Protected string `json:"protected"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// SignRevocations returns the list, stamped with now, as a flattened JWS
// (RFC 7515) signed ES256 with the signer's current key: {"protected":
// b64url({"alg":"ES256","kid":K}), "payload": b64url(list JSON),
// "signature": b64url(r‖s)} over protected "." payload.
func (s *Signer) SignRevocations(r *Revocations, now time.Time) ([]byte, error) {
	list := Revocations{IssuedAt: now.Unix(), TokenIDs: []string{}, KeyIDs: []string{}}
	if r != nil {
		list.TokenIDs, list.KeyIDs = append(list.TokenIDs, r.TokenIDs...), append(list.KeyIDs, r.KeyIDs...)
	}
	payload, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": s.key.ID.String()})
	out := jws{Protected: base64.RawURLEncoding.EncodeToString(hdr), Payload: base64.RawURLEncoding.EncodeToString(payload)}
	digest := sha256.Sum256([]byte(out.Protected + "." + out.Payload))
	rr, ss, err := ecdsa.Sign(rand.Reader, s.key.Priv, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	var sig [64]byte
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	out.Signature = base64.RawURLEncoding.EncodeToString(sig[:])
	return json.Marshal(out)
}

// ParseSignedRevocations verifies a list written by SignRevocations against
// trust and returns it. A list signed by a revoked key is refused, as is one
// that does not verify.
func ParseSignedRevocations(b []byte, trust *TrustList) (*Revocations, error) {
	var j jws
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("signed revocations: %w", err)
	}
	hdrJSON, err1 := base64.RawURLEncoding.DecodeString(j.Protected)
	payload, err2 := base64.RawURLEncoding.DecodeString(j.Payload)
	sig, err3 := base64.RawURLEncoding.DecodeString(j.Signature)
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != 64 {
		return nil, errors.New("signed revocations: not a flattened JWS with a 64-byte signature")
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr.Alg != "ES256" {
		return nil, errors.New("signed revocations: protected header must say alg ES256")
	}
	kid, err := ParseKeyID(hdr.Kid)
	if err != nil {
		return nil, fmt.Errorf("signed revocations: %w", err)
	}
	pub, ok := trust.Key(kid)
	if !ok {
		return nil, fmt.Errorf("signed revocations: %w (kid %s)", ErrUnknownKey, kid)
	}
	digest := sha256.Sum256([]byte(j.Protected + "." + j.Payload))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, fmt.Errorf("signed revocations: %w", ErrSignature)
	}
	r, err := ParseRevocations(payload)
	if err != nil {
		return nil, err
	}
	if r.HasKey(kid) {
		return nil, fmt.Errorf("signed revocations: %w (kid %s)", ErrRevokedKey, kid)
	}
	return r, nil
}
