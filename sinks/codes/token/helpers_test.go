package token

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"testing"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func inflate(t *testing.T, z []byte) []byte {
	t.Helper()
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wrap compresses and base45-encodes COSE bytes as a token.
func (c *codec) wrap(msg []byte) string {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(msg)
	w.Close()
	return Prefix + EncodeBase45(z.Bytes())
}
