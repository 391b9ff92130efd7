package token

import "errors"

// Verification errors. Verify wraps exactly one of them, so a verifier can
// tell a guard why a code is refused.
var (
	ErrMalformed    = errors.New("token is malformed")
	ErrUnknownKey   = errors.New("token is signed with a key that is not in the trust list")
	ErrSignature    = errors.New("token signature does not verify")
	ErrExpired      = errors.New("token has expired")
	ErrNotYetValid  = errors.New("token is issued in the future")
	ErrRevokedToken = errors.New("token is revoked")
	ErrRevokedKey   = errors.New("token's signing key is revoked")
)
