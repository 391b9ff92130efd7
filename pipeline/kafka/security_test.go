package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// testCert writes a self-signed certificate for 127.0.0.1 and its key as PEM
// files under dir, and returns it for the broker and the file names.
func testCert(t *testing.T, dir string) (cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "healthcode test broker"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// TestClient_TLSAndSASL runs admin calls, a writer, a partition reader and a
// lag query against brokers that demand TLS (verified against a CA file) and
// SASL, once per mechanism.
func TestClient_TLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	cert, certFile, keyFile := testCert(t, dir)
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("s3cret-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{SASLPlain, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mech, "hc", "s3cret-for-tests"),
				kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := Config{Brokers: c.ListenAddrs(), Logger: testLogger(t),
				TLS:  TLSConfig{CAFile: certFile},
				SASL: SASLConfig{Mechanism: mech, Username: "hc", PasswordFile: pwFile}}
			k := mustNew(t, cfg)
			ctx := testContext(t, 20*time.Second)
			if err := k.EnsureTopics(ctx, TopicSpec{Name: "secure", Partitions: 1}); err != nil {
				t.Fatal(err)
			}
			produceTo(t, k, "secure", []string{"x", "y"})
			if got := readPartition(t, k, "secure", 0, 2); string(got[1].Value) != "y" {
				t.Errorf("read back %q", got[1].Value)
			}
			lag, err := k.Lag(ctx, "nobody", "secure")
			if err != nil || len(lag) != 1 || lag[0].Lag != 2 {
				t.Errorf("lag %+v, %v; want 2 on one partition", lag, err)
			}

			// A wrong password is refused.
			bad := cfg
			bad.SASL = SASLConfig{Mechanism: mech, Username: "hc", Password: "wrong"}
			if err := mustNew(t, bad).EnsureTopics(ctx, TopicSpec{Name: "other", Partitions: 1}); err == nil {
				t.Error("a wrong password was accepted")
			}
		})
	}
	// Files are checked at New.
	if _, err := New(Config{Brokers: []string{"b:1"}, TLS: TLSConfig{CAFile: keyFile}}); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
	if _, err := New(Config{Brokers: []string{"b:1"}, TLS: TLSConfig{CertFile: certFile, KeyFile: certFile}}); err == nil {
		t.Error("a key file without a key was accepted")
	}
	if _, err := New(Config{Brokers: []string{"b:1"}, TLS: TLSConfig{CertFile: certFile, KeyFile: keyFile}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
}
