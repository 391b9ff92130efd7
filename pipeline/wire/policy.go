package wire

import (
	"fmt"

	"healthcode/scoring"
)

// PolicyKey is the key of every record on the policy topic (hc.policy,
// compacted: the latest record is the policy in force).
const PolicyKey = "policy"

// EncodePolicy validates raw, a policy document (JSON, as shipped in
// policies/ or written by an operator), and returns the hc.policy record that
// publishes it: key PolicyKey and the document unchanged as the value, so
// that what is in force reads as it was written. It refuses what the
// pipeline would refuse.
func EncodePolicy(raw []byte) (key, value []byte, p *scoring.Policy, err error) {
	p, err = scoring.ParsePolicy(raw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode policy: %w", err)
	}
	return []byte(PolicyKey), append([]byte(nil), raw...), p, nil
}

// DecodePolicy decodes an hc.policy record: its key must be PolicyKey and its
// value a valid policy (scoring.ParsePolicy). Errors about the key wrap
// ErrMalformed; the policy's own errors are scoring's.
func DecodePolicy(key, value []byte) (*scoring.Policy, error) {
	if string(key) != PolicyKey {
		return nil, fmt.Errorf("decode policy: %w: record key is not %q", ErrMalformed, PolicyKey)
	}
	p, err := scoring.ParsePolicy(value)
	if err != nil {
		return nil, fmt.Errorf("decode policy: %w", err)
	}
	return p, nil
}
