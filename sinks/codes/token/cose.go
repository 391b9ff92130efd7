package token

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Prefix starts every token's text.
const Prefix = "HC1:"

// CBOR and COSE constants (RFC 9052, RFC 9053).
const (
	tagSign1     = 18
	headerAlg    = 1
	headerKid    = 4
	algES256     = -7
	maxTokenSize = 64 << 10 // decompressed COSE bytes a verifier accepts
	maxLifetime  = 24 * time.Hour
)

// codec holds the CBOR modes and the pooled zlib writers; it is immutable
// but for the pool.
type codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
	// Pooled zlib writers: stored blocks for short messages, whose bytes
	// are mostly signature, key and random id (deflate saves nothing there
	// and costs a third of the signing time), BestSpeed for longer ones
	// (certificates, whose repeated claim names compress).
	stored, fast sync.Pool // *zlib.Writer
}

// compressAbove is the COSE size from which deflate is worth its time.
const compressAbove = 512

// compress returns msg as a zlib stream (RFC 1950).
func (c *codec) compress(msg []byte) ([]byte, error) {
	pool, level := &c.stored, zlib.NoCompression
	if len(msg) > compressAbove {
		pool, level = &c.fast, zlib.BestSpeed
	}
	var z bytes.Buffer
	z.Grow(len(msg) + 16)
	zw, _ := pool.Get().(*zlib.Writer)
	if zw == nil {
		zw, _ = zlib.NewWriterLevel(&z, level)
	} else {
		zw.Reset(&z)
	}
	zw.Write(msg)
	err := zw.Close()
	pool.Put(zw)
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	return z.Bytes(), nil
}

func newCodec() *codec {
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // static options
	}
	dec, err := cbor.DecOptions{MaxNestedLevels: 16, MaxArrayElements: 4096, MaxMapPairs: 256,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden}.DecMode()
	if err != nil {
		panic(err)
	}
	return &codec{enc: enc, dec: dec}
}

// sigStructure returns the CBOR of RFC 9052 §4.4's Sig_structure for a
// COSE_Sign1 with no external AAD: ["Signature1", protected, h”, payload].
func sigStructure(protected, payload []byte) []byte {
	b := make([]byte, 0, 16+len(protected)+len(payload)+10)
	b = append(b, 0x84, 0x6a)
	b = append(b, "Signature1"...)
	b = appendBstr(b, protected)
	b = append(b, 0x40)
	return appendBstr(b, payload)
}

// appendBstr appends a CBOR byte string head and its bytes.
func appendBstr(b, s []byte) []byte {
	n := len(s)
	switch {
	case n < 24:
		b = append(b, 0x40|byte(n))
	case n < 1<<8:
		b = append(b, 0x58, byte(n))
	case n < 1<<16:
		b = append(b, 0x59, byte(n>>8), byte(n))
	default:
		b = append(b, 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// protectedHeader returns the CBOR of {1: -7, 4: h'kid'}.
func protectedHeader(kid KeyID) []byte {
	b := []byte{0xa2, headerAlg, 0x26, headerKid, 0x48}
	return append(b, kid[:]...)
}

// sign returns the text form of a COSE_Sign1 over payload.
func (c *codec) sign(key *Key, protected, payload []byte) (string, error) {
	digest := sha256.Sum256(sigStructure(protected, payload))
	r, s, err := ecdsa.Sign(rand.Reader, key.Priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	msg := make([]byte, 0, 8+len(protected)+len(payload)+70)
	msg = append(msg, 0xc0|tagSign1, 0x84)
	msg = appendBstr(msg, protected)
	msg = append(msg, 0xa0)
	msg = appendBstr(msg, payload)
	msg = append(msg, 0x58, 64)
	msg = append(msg, make([]byte, 64)...)
	r.FillBytes(msg[len(msg)-64 : len(msg)-32])
	s.FillBytes(msg[len(msg)-32:])

	z, err := c.compress(msg)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, len(Prefix)+(len(z)+1)/2*3)
	out = append(out, Prefix...)
	return string(AppendBase45(out, z)), nil
}

// sign1 is a decoded COSE_Sign1 (the content of tag 18).
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// open undoes the text form and checks the COSE_Sign1 against the trust
// list; it returns the verified payload and the kid.
func (c *codec) open(text string, trust *TrustList) ([]byte, KeyID, error) {
	var kid KeyID
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, Prefix) {
		return nil, kid, fmt.Errorf("%w: no %q prefix", ErrMalformed, Prefix)
	}
	z, err := DecodeBase45(text[len(Prefix):])
	if err != nil {
		return nil, kid, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, kid, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	msg, err := io.ReadAll(io.LimitReader(zr, maxTokenSize+1))
	if err != nil {
		return nil, kid, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	if len(msg) > maxTokenSize {
		return nil, kid, fmt.Errorf("%w: more than %d bytes decompressed", ErrMalformed, maxTokenSize)
	}
	var tag cbor.RawTag
	if err := c.dec.Unmarshal(msg, &tag); err != nil || tag.Number != tagSign1 {
		return nil, kid, fmt.Errorf("%w: not a COSE_Sign1 (CBOR tag 18)", ErrMalformed)
	}
	var m sign1
	if err := c.dec.Unmarshal(tag.Content, &m); err != nil {
		return nil, kid, fmt.Errorf("%w: COSE_Sign1: %v", ErrMalformed, err)
	}
	var hdr map[int]cbor.RawMessage
	if err := c.dec.Unmarshal(m.Protected, &hdr); err != nil {
		return nil, kid, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	var alg int
	var kidBytes []byte
	if err := c.dec.Unmarshal(hdr[headerAlg], &alg); err != nil || alg != algES256 {
		return nil, kid, fmt.Errorf("%w: protected header alg must be ES256 (-7)", ErrMalformed)
	}
	if err := c.dec.Unmarshal(hdr[headerKid], &kidBytes); err != nil || len(kidBytes) != len(kid) {
		return nil, kid, fmt.Errorf("%w: protected header kid must be %d bytes", ErrMalformed, len(kid))
	}
	copy(kid[:], kidBytes)
	pub, ok := trust.Key(kid)
	if !ok {
		return nil, kid, fmt.Errorf("%w (kid %s)", ErrUnknownKey, kid)
	}
	if len(m.Signature) != 64 {
		return nil, kid, fmt.Errorf("%w: signature is %d bytes, want 64 (r‖s)", ErrSignature, len(m.Signature))
	}
	digest := sha256.Sum256(sigStructure(m.Protected, m.Payload))
	r, s := new(big.Int).SetBytes(m.Signature[:32]), new(big.Int).SetBytes(m.Signature[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return nil, kid, ErrSignature
	}
	return m.Payload, kid, nil
}
