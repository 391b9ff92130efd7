// Package token owns the HC1 health-code token: its base45 text form (RFC
// 9285), the zlib-compressed COSE_Sign1 (RFC 9052) signed with ES256, the CWT
// claims it carries (RFC 8392), the signing keys and their trust list (JWKS,
// RFC 7517), and the signed revocation list. It is pure: no network, no files
// beyond what a caller hands it as bytes, no clock but the one passed in. It
// must not import Kafka, HTTP, the pipeline or scoring.
package token
