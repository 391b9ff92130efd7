package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/sinks"
	"healthcode/sinks/codes/token"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, res.StatusCode, b)
	}
	return b
}

// TestCodesCommands runs keygen, codes serve against kfake, verify on a
// token, its QR code and a tampered copy, and revoke.
func TestCodesCommands(t *testing.T) {
	dir := t.TempDir()
	if out, err := run(t, codesCmd, "keygen", "--out", dir); err != nil || !strings.Contains(out, "kid ") {
		t.Fatalf("keygen: %v %s", err, out)
	}
	if _, err := run(t, codesCmd, "keygen", "--out", dir); err == nil {
		t.Error("keygen over an existing key without --rotate succeeded")
	}
	if _, err := run(t, codesCmd, "keygen", "--out", dir, "--rotate"); err != nil {
		t.Fatal(err)
	}
	tl, _ := os.ReadFile(filepath.Join(dir, "trust-list.json"))
	if trust, err := token.ParseTrustList(tl); err != nil || trust.Len() != 2 {
		t.Fatalf("trust list after rotation: %v", err)
	}

	emb, err := broker.Start(broker.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	brokers := emb.Addrs()
	kc, err := kafka.New(kafka.Config{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: "hc.colour-updates", Partitions: 2},
		kafka.TopicSpec{Name: "hc.person-events", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	key := "00112233445566778899aabbccddeeff"
	u, _ := json.Marshal(sinks.ColourUpdate{PersonKey: key, Colour: "yellow", Level: 1, Version: 1, Policy: "domestic@1",
		EffectiveAt: "2020-03-16T10:00:00+08:00", Reasons: []sinks.Reason{{Rule: "area-medium", TextEN: "e", TextZH: "z", Evidence: []string{}}}})
	w := kc.NewWriter("hc.colour-updates", nil)
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(key), Value: u}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	addr := freeAddr(t)
	done := make(chan error, 1)
	go func() {
		_, err := run(t, func(_ context.Context, args []string, out io.Writer) error { return codesCmd(ctx, args, out) },
			"serve", "--brokers", brokers[0], "--http", addr, "--signing-key", filepath.Join(dir, "signing-key.pem"))
		done <- err
	}()
	base := "http://" + addr
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("codes serve ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var code struct{ Token, Colour string }
	json.Unmarshal(httpGet(t, base+"/v1/codes/"+key), &code)
	if code.Colour != "yellow" {
		t.Fatalf("served colour %q", code.Colour)
	}
	trust := filepath.Join(dir, "trust-list.json")
	out, err := run(t, verifyCmd, "--trust", trust, "--revocations", base+"/v1/revocations", code.Token)
	if err != nil || !strings.Contains(out, "colour:     yellow (level 1)") || !strings.Contains(out, "reasons:    area-medium") || !strings.Contains(out, "VALID") {
		t.Errorf("verify: %v\n%s", err, out)
	}
	// The QR code, read in Go.
	png := filepath.Join(dir, "qr.png")
	os.WriteFile(png, httpGet(t, base+"/v1/codes/"+key+"/qr.png"), 0o644)
	if out, err := run(t, verifyCmd, "--trust", base+"/v1/trust-list", png); err != nil || !strings.Contains(out, "person key: "+key) {
		t.Errorf("verify QR.png: %v\n%s", err, out)
	}
	// Tampered: one base45 character changed.
	i := len(code.Token) / 2
	c := byte('0')
	if code.Token[i] == '0' {
		c = '1'
	}
	if _, err := run(t, verifyCmd, "--trust", trust, code.Token[:i]+string(c)+code.Token[i+1:]); err == nil {
		t.Error("a tampered token verified")
	}
	// Revoke the token; then its key.
	var tid string
	v, _ := run(t, verifyCmd, "--trust", trust, code.Token)
	for _, line := range strings.Split(v, "\n") {
		if s, ok := strings.CutPrefix(line, "token id:   "); ok {
			tid = s
		}
	}
	revs := filepath.Join(dir, "revocations.json")
	if _, err := run(t, codesCmd, "revoke", "--revocations", revs, "--token-id", tid); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, verifyCmd, "--trust", trust, "--revocations", base+"/v1/revocations", code.Token); !errors.Is(err, token.ErrRevokedToken) {
		t.Errorf("revoked token: %v", err)
	}
	var jwks struct{ Keys []struct{ Kid string } }
	json.Unmarshal(tl, &jwks)
	if _, err := run(t, codesCmd, "revoke", "--revocations", revs, "--kid", jwks.Keys[1].Kid); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, verifyCmd, "--trust", trust, "--revocations", revs, code.Token); !errors.Is(err, token.ErrRevokedKey) {
		t.Errorf("token of a revoked key: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("codes serve: %v", err)
	}
}
