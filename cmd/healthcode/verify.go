package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"healthcode/sinks/codes/qr"
	"healthcode/sinks/codes/token"
)

// verifyCmd checks a token offline: signature, kid in the trust list,
// expiry, revocation. Exit 0 when valid, 1 with the reason when not.
func verifyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("verify", "verify [--trust FILE|URL] [--revocations FILE|URL] TOKEN|QR.png|-")
	trustSrc := fs.String("trust", "keys/trust-list.json", "trust list (JWKS): a file, or a code service's /v1/trust-list URL")
	revSrc := fs.String("revocations", "", "revocation list: the signed one (a file or a /v1/revocations URL) or the operator's file; empty: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("give one TOKEN, QR.png or - (standard input)")
	}
	text, err := readToken(fs.Arg(0))
	if err != nil {
		return err
	}
	tb, err := readSource(ctx, *trustSrc)
	if err != nil {
		return fmt.Errorf("--trust: %w", err)
	}
	trust, err := token.ParseTrustList(tb)
	if err != nil {
		return fmt.Errorf("--trust: %w", err)
	}
	var revs *token.Revocations
	if *revSrc != "" {
		rb, err := readSource(ctx, *revSrc)
		if err != nil {
			return fmt.Errorf("--revocations: %w", err)
		}
		if bytes.Contains(rb, []byte(`"signature"`)) {
			revs, err = token.ParseSignedRevocations(rb, trust)
		} else {
			revs, err = token.ParseRevocations(rb) // the operator's own file
		}
		if err != nil {
			return fmt.Errorf("--revocations: %w", err)
		}
	}
	cl, kid, verr := token.NewVerifier(trust, revs).Verify(text, time.Now())
	if cl != nil {
		printClaims(stdout, cl, kid)
	}
	if verr != nil {
		fmt.Fprintln(stdout, "INVALID:", verr)
		return verr
	}
	fmt.Fprintln(stdout, "VALID")
	return nil
}

func printClaims(w io.Writer, cl *token.Claims, kid token.KeyID) {
	zone := time.FixedZone("CST", 8*3600)
	at := func(s int64) string { return time.Unix(s, 0).In(zone).Format(time.RFC3339) }
	fmt.Fprintf(w, "colour:     %s (level %d)\n", cl.Code.Colour, cl.Code.Level)
	fmt.Fprintf(w, "reasons:    %s\n", strings.Join(append([]string{}, cl.Code.Rules...), ", "))
	fmt.Fprintf(w, "policy:     %s, version %d\n", cl.Code.Policy, cl.Code.Version)
	if cl.Code.ReviewAt != 0 {
		fmt.Fprintf(w, "review at:  %s\n", at(cl.Code.ReviewAt))
	}
	fmt.Fprintf(w, "person key: %s\n", cl.Subject)
	fmt.Fprintf(w, "issuer:     %s, key %s\n", cl.Issuer, kid)
	fmt.Fprintf(w, "valid:      %s to %s\n", at(cl.IssuedAt), at(cl.Expires))
	fmt.Fprintf(w, "token id:   %s\n", base64.RawURLEncoding.EncodeToString(cl.TokenID))
	if cl.Cert != nil {
		b, _ := json.Marshal(cl.Cert)
		fmt.Fprintf(w, "certificate: %s\n", b)
	}
}

// readToken reads the token text from an argument: "-" is standard input, a
// PNG file is decoded as a QR code, anything else is the token itself.
func readToken(arg string) (string, error) {
	var b []byte
	var err error
	switch {
	case arg == "-":
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	case strings.HasPrefix(arg, token.Prefix):
		return arg, nil
	default:
		b, err = os.ReadFile(arg)
	}
	if err != nil {
		return "", err
	}
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		return qr.Read(b)
	}
	return strings.TrimSpace(string(b)), nil
}

// readSource reads a file, or GETs an http(s) URL.
func readSource(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.ReadFile(src)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, 4<<20))
}
