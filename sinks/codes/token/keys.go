package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// KeyID is the COSE kid of a signing key: the first 8 bytes of the SHA-256 of
// the DER SubjectPublicKeyInfo of its public key (as the EU DCC does with
// its certificates, minus the certificate).
type KeyID [8]byte

// String returns the kid in base64url without padding, as the trust list
// writes it.
func (k KeyID) String() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// ParseKeyID parses a kid written by String.
func ParseKeyID(s string) (KeyID, error) {
	var k KeyID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("kid must be 8 bytes in base64url without padding")
	}
	copy(k[:], b)
	return k, nil
}

// KeyIDOf returns the kid of a public key.
func KeyIDOf(pub *ecdsa.PublicKey) (KeyID, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return KeyID{}, fmt.Errorf("kid: %w", err)
	}
	sum := sha256.Sum256(der)
	return KeyID(sum[:8]), nil
}

// Key is one P-256 signing key and its kid.
type Key struct {
	Priv *ecdsa.PrivateKey
	ID   KeyID
}

// GenerateKey makes a new P-256 key from crypto/rand.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return newKey(priv)
}

func newKey(priv *ecdsa.PrivateKey) (*Key, error) {
	id, err := KeyIDOf(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{Priv: priv, ID: id}, nil
}

// MarshalPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block.
func (k *Key) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Priv)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeysPEM parses every PKCS#8 "PRIVATE KEY" block of b, in order. Each
// must be an ECDSA P-256 key.
func ParseKeysPEM(b []byte) ([]*Key, error) {
	var keys []*Key
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("parse key: PEM block %q, want PKCS#8 \"PRIVATE KEY\"", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse key: %w", err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, errors.New("parse key: not an ECDSA P-256 key")
		}
		key, err := newKey(ec)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("parse key: no PEM \"PRIVATE KEY\" block")
	}
	return keys, nil
}

// TrustList is the set of public keys a verifier accepts, by kid.
type TrustList struct {
	keys map[KeyID]*ecdsa.PublicKey
	ids  []KeyID // in the order added
}

// NewTrustList returns a trust list of the public halves of keys.
func NewTrustList(keys ...*Key) *TrustList {
	t := &TrustList{keys: map[KeyID]*ecdsa.PublicKey{}}
	for _, k := range keys {
		t.Add(k.ID, &k.Priv.PublicKey)
	}
	return t
}

// Add adds a public key under id (a second key with the same id is ignored).
func (t *TrustList) Add(id KeyID, pub *ecdsa.PublicKey) {
	if t.keys == nil {
		t.keys = map[KeyID]*ecdsa.PublicKey{}
	}
	if _, dup := t.keys[id]; dup {
		return
	}
	t.keys[id] = pub
	t.ids = append(t.ids, id)
}

// Key returns the public key of id, if trusted.
func (t *TrustList) Key(id KeyID) (*ecdsa.PublicKey, bool) {
	pub, ok := t.keys[id]
	return pub, ok
}

// Len returns the number of keys.
func (t *TrustList) Len() int { return len(t.ids) }

// jwk is one key of a JWKS (RFC 7517, RFC 7518 §6.2.1).
type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// MarshalJSON writes the trust list as a JWKS: {"keys": [{"kid", "kty":
// "EC", "crv": "P-256", "x", "y", "use": "sig", "alg": "ES256"}]}, x and y
// 32 bytes each in base64url without padding.
func (t *TrustList) MarshalJSON() ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(t.ids))}
	for _, id := range t.ids {
		pub := t.keys[id]
		var x, y [32]byte
		pub.X.FillBytes(x[:])
		pub.Y.FillBytes(y[:])
		set.Keys = append(set.Keys, jwk{Kid: id.String(), Kty: "EC", Crv: "P-256",
			X: base64.RawURLEncoding.EncodeToString(x[:]), Y: base64.RawURLEncoding.EncodeToString(y[:]),
			Use: "sig", Alg: "ES256"})
	}
	return json.Marshal(set)
}

// ParseTrustList parses a JWKS. Every key must be an EC P-256 key on the
// curve, and its kid must match the key (so a trust list cannot put a key
// under another key's kid).
func ParseTrustList(b []byte) (*TrustList, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("parse trust list: %w", err)
	}
	t := &TrustList{keys: map[KeyID]*ecdsa.PublicKey{}}
	for i, k := range set.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil, fmt.Errorf("parse trust list: key %d: kty %q crv %q, want EC P-256", i, k.Kty, k.Crv)
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("parse trust list: key %d: x and y must be 32 bytes in base64url", i)
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if _, err := pub.ECDH(); err != nil {
			return nil, fmt.Errorf("parse trust list: key %d is not a point on P-256", i)
		}
		id, err := ParseKeyID(k.Kid)
		if err != nil {
			return nil, fmt.Errorf("parse trust list: key %d: %w", i, err)
		}
		if want, _ := KeyIDOf(pub); want != id {
			return nil, fmt.Errorf("parse trust list: key %d: kid does not match the key", i)
		}
		t.Add(id, pub)
	}
	return t, nil
}
