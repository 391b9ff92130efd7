package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sources"
)

var testKey = []byte("sim-test-key, not a production secret")

// testPolicy is the shipped domestic policy, whose contact definitions the
// tests' simulations follow.
func testPolicy(t testing.TB) *scoring.Policy {
	t.Helper()
	p, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// kept is a message whose buffers were copied out of Run.
type kept struct {
	stream     sources.Stream
	key, value []byte
	at         time.Time
}

type runResult struct {
	msgs  []kept
	sum   Summary
	truth []byte
}

// collect runs the simulator and keeps every message.
func collect(t testing.TB, cfg Config) runResult {
	t.Helper()
	var res runResult
	var truth bytes.Buffer
	if cfg.Truth == nil {
		cfg.Truth = &truth
	}
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.Policy == nil {
		cfg.Policy = testPolicy(t)
	}
	sum, err := Run(context.Background(), cfg, func(m Message) error {
		res.msgs = append(res.msgs, kept{m.Stream, bytes.Clone(m.Key), bytes.Clone(m.Value), m.At})
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	res.sum, res.truth = sum, truth.Bytes()
	return res
}

// checkResidentID validates a GB 11643 number independently of the package:
// 17 digits, then the ISO 7064 MOD 11-2 check character.
func checkResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := range 17 {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		w := 1
		for range 17 - i {
			w = w * 2 % 11
		}
		sum += int(c-'0') * w
	}
	want := byte('0' + (12-sum%11)%11)
	if want == '0'+10 {
		want = 'X'
	}
	return s[17] == want
}

// refKey computes a person key from the contract's words, for cross-checks.
func refKey(idType, idNumber string) string {
	m := hmac.New(sha256.New, testKey)
	m.Write([]byte(idType + ":" + idNumber))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
