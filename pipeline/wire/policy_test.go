package wire

import (
	"bytes"
	"errors"
	"testing"

	"healthcode/policies"
)

func TestEncodePolicy_Golden(t *testing.T) {
	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	key, value, p, err := EncodePolicy(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != PolicyKey || p.Stamp() == "" {
		t.Fatalf("key %q, policy %q", key, p.Stamp())
	}
	want := golden(t, "policy-v1.json", value)
	if !bytes.Equal(value, want) {
		t.Errorf("the record of the shipped domestic policy differs from testdata/policy-v1.json (run go test -update if the policy changed on purpose)")
	}
	got, err := DecodePolicy([]byte(PolicyKey), want)
	if err != nil || got.Stamp() != p.Stamp() {
		t.Fatalf("golden record decodes to %v, %v; want %s", got, err, p.Stamp())
	}
}

func TestDecodePolicy_Refuses(t *testing.T) {
	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodePolicy([]byte("other"), raw); !errors.Is(err, ErrMalformed) {
		t.Errorf("foreign key: err = %v, want malformed", err)
	}
	for _, v := range []string{"", "{", `{"name": "broken"}`} {
		if _, err := DecodePolicy([]byte(PolicyKey), []byte(v)); err == nil {
			t.Errorf("value %q accepted", v)
		}
		if _, _, _, err := EncodePolicy([]byte(v)); err == nil {
			t.Errorf("value %q encoded", v)
		}
	}
}

func FuzzDecodePolicy(f *testing.F) {
	raw, err := policies.Raw("domestic")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"name": "x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePolicy([]byte(PolicyKey), b)
		if err != nil {
			return
		}
		// What decodes is what EncodePolicy accepts, and decodes the same.
		_, v, p2, err := EncodePolicy(b)
		if err != nil || !bytes.Equal(v, b) || p2.Stamp() != p.Stamp() {
			t.Fatalf("decoded %s but encode gave %v, %s", p.Stamp(), err, p2.Stamp())
		}
	})
}
