package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse/chtest"
	"healthcode/sources"
)

// settingsEnv lists every variable the shared settings read; each test starts
// with them all unset (t.Setenv restores them afterwards).
var settingsEnv = []string{"HEALTHCODE_BROKERS", "HEALTHCODE_KAFKA_TLS", "HEALTHCODE_KAFKA_TLS_CA", "HEALTHCODE_KAFKA_TLS_CERT",
	"HEALTHCODE_KAFKA_TLS_KEY", "HEALTHCODE_KAFKA_SASL_MECHANISM", "HEALTHCODE_KAFKA_SASL_USER", "HEALTHCODE_KAFKA_SASL_PASSWORD",
	"HEALTHCODE_KAFKA_SASL_PASSWORD_FILE", "HEALTHCODE_CLICKHOUSE_USER", "HEALTHCODE_CLICKHOUSE_PASSWORD",
	"HEALTHCODE_CLICKHOUSE_PASSWORD_FILE", "HEALTHCODE_CLICKHOUSE_TLS", "HEALTHCODE_CLICKHOUSE_TLS_CA", "HEALTHCODE_CLICKHOUSE_TLS_CERT",
	"HEALTHCODE_CLICKHOUSE_TLS_KEY", "HEALTHCODE_CLICKHOUSE_CLUSTER", "HEALTHCODE_CLICKHOUSE_DB", "HEALTHCODE_PSEUDONYM_KEY",
	"HEALTHCODE_PSEUDONYM_KEY_FILE", "HEALTHCODE_GROUP_PREFIX", "HEALTHCODE_TOPICS"}

func clearSettingsEnv(t *testing.T) {
	t.Helper()
	for _, e := range settingsEnv {
		t.Setenv(e, "")
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// settings registers every shared setting on a fresh flag set and parses args.
type settings struct {
	fs     *flag.FlagSet
	kafka  *kafkaFlags
	ch     *clickHouseFlags
	key    *keyFlags
	group  *string
	topics *topicFlags
}

func parseSettings(t *testing.T, args ...string) (*settings, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	s := &settings{fs: fs, kafka: addKafkaFlags(fs, "x"), ch: addClickHouseFlags(fs, true), key: addKeyFlags(fs),
		group: addGroupPrefixFlag(fs), topics: addTopicFlags(fs)}
	return s, fs.Parse(args)
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one naming %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

func TestSettings_EnvAndPrecedence(t *testing.T) {
	clearSettingsEnv(t)
	dir := t.TempDir()
	t.Setenv("HEALTHCODE_BROKERS", "k1:9092, k2:9092")
	t.Setenv("HEALTHCODE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("HEALTHCODE_KAFKA_SASL_USER", "hc")
	t.Setenv("HEALTHCODE_KAFKA_SASL_PASSWORD", "from-env")
	t.Setenv("HEALTHCODE_CLICKHOUSE_ADDR", "ch:9440")
	t.Setenv("HEALTHCODE_CLICKHOUSE_USER", "writer")
	t.Setenv("HEALTHCODE_CLICKHOUSE_PASSWORD_FILE", writeFile(t, dir, "chpw", "ch-secret\n"))
	t.Setenv("HEALTHCODE_CLICKHOUSE_TLS", "true")
	t.Setenv("HEALTHCODE_CLICKHOUSE_CLUSTER", "main")
	t.Setenv("HEALTHCODE_CLICKHOUSE_DB", "prod")
	t.Setenv("HEALTHCODE_PSEUDONYM_KEY", "env-key")
	t.Setenv("HEALTHCODE_GROUP_PREFIX", "prov-")
	t.Setenv("HEALTHCODE_TOPICS", "colour-updates=prov.colours, src.checkins=upstream.checkins")

	// Everything, secrets included, from the environment alone: nothing on argv.
	s, err := parseSettings(t)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := s.kafka.config()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kc.Brokers, []string{"k1:9092", "k2:9092"}) || kc.SASL.Mechanism != kafka.SASLScramSHA512 ||
		kc.SASL.Username != "hc" || kc.SASL.Password != "from-env" {
		t.Errorf("kafka config %+v", kc)
	}
	ch, err := s.ch.options()
	if err != nil {
		t.Fatal(err)
	}
	if ch.Addr != "ch:9440" || ch.User != "writer" || ch.Password != "ch-secret" || !ch.TLS || ch.Cluster != "main" || ch.Database != "prod" {
		t.Errorf("clickhouse options %+v", ch)
	}
	if key, err := s.key.resolve(false); err != nil || string(key) != "env-key" {
		t.Errorf("key %q, %v", key, err)
	}
	tp, err := s.topics.topics()
	if err != nil {
		t.Fatal(err)
	}
	if *s.group != "prov-" || tp.ColourUpdates != "prov.colours" || !slices.Contains(mapValues(tp), "upstream.checkins") {
		t.Errorf("group %q, topics %+v", *s.group, tp)
	}

	// Flags override their variables, topic names name by name.
	pwFile := writeFile(t, dir, "kpw", "from-file\n")
	s, err = parseSettings(t, "--brokers", "k3:9093", "--kafka-sasl-mechanism", "plain", "--kafka-sasl-password-file", pwFile,
		"--clickhouse", "ch2:9000", "--clickhouse-db", "other", "--group-prefix", "x-", "--topic", "colour-updates=c2",
		"--pseudonym-key-file", writeFile(t, dir, "key", "file-key\n"))
	if err != nil {
		t.Fatal(err)
	}
	kc, err = s.kafka.config()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kc.Brokers, []string{"k3:9093"}) || kc.SASL.Mechanism != kafka.SASLPlain || kc.SASL.Password != "from-file" {
		t.Errorf("kafka config %+v", kc)
	}
	if ch, _ = s.ch.options(); ch.Addr != "ch2:9000" || ch.Database != "other" {
		t.Errorf("clickhouse %+v", ch)
	}
	if key, err := s.key.resolve(false); err != nil || string(key) != "file-key" {
		t.Errorf("a key file on argv must win over the key in the environment: %q, %v", key, err)
	}
	tp, _ = s.topics.topics()
	if *s.group != "x-" || tp.ColourUpdates != "c2" || !slices.Contains(mapValues(tp), "upstream.checkins") {
		t.Errorf("group %q, topics %+v", *s.group, tp)
	}
}

func mapValues(tp pipeline.Topics) []string {
	var out []string
	for _, v := range tp.Sources {
		out = append(out, v)
	}
	return out
}

func TestSettings_Defaults(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("HEALTHCODE_CLICKHOUSE_ADDR", "")
	s, err := parseSettings(t)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := s.kafka.config()
	if err != nil || len(kc.Brokers) != 0 || kc.TLS.Enabled || kc.SASL.Mechanism != "" {
		t.Errorf("kafka %+v, %v", kc, err)
	}
	ch, err := s.ch.options()
	if err != nil || ch.Addr != "127.0.0.1:9000" || ch.Database != "healthcode" || ch.User != "default" || ch.Password != "" || ch.TLS {
		t.Errorf("clickhouse %+v, %v", ch, err)
	}
	if key, err := s.key.secret(); key != nil || err != nil {
		t.Errorf("key %q, %v", key, err)
	}
	if _, err := s.key.resolve(false); err == nil {
		t.Error("no key and no development fallback: want an error")
	}
	// The topic defaults are the pipeline's own.
	tp, err := s.topics.topics()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policies.Load("domestic")
	p, err := pipeline.New(pipeline.Options{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:1"}}, Policy: pol, Decoder: sources.Config{Key: []byte("k")}})
	if err != nil {
		t.Fatal(err)
	}
	want := p.Options().Topics
	if tp.PersonEvents != want.PersonEvents || tp.AreaRisk != want.AreaRisk || tp.ColourUpdates != want.ColourUpdates ||
		tp.DeadLetter != want.DeadLetter || tp.State != want.State || tp.Presence != want.Presence || tp.Exposures != want.Exposures ||
		tp.Policy != want.Policy || len(tp.Sources) != len(want.Sources) {
		t.Errorf("topic defaults %+v, pipeline's %+v", tp, want)
	}
	for s, v := range want.Sources {
		if tp.Sources[s] != v {
			t.Errorf("source %v: %q, pipeline's %q", s, tp.Sources[s], v)
		}
	}
	if *s.group != p.Options().GroupPrefix {
		t.Errorf("group prefix %q, pipeline's %q", *s.group, p.Options().GroupPrefix)
	}
}

func TestSettings_Errors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*settings) error
		want  []string
	}{
		{"bad mechanism", nil, []string{"--brokers", "b:1", "--kafka-sasl-mechanism", "gssapi"}, kafkaErr, []string{"--kafka-sasl-mechanism", "plain or scram-sha-512"}},
		{"no user", nil, []string{"--brokers", "b:1", "--kafka-sasl-mechanism", "plain"}, kafkaErr, []string{"--kafka-sasl-user"}},
		{"no password", nil, []string{"--brokers", "b:1", "--kafka-sasl-mechanism", "plain", "--kafka-sasl-user", "u"}, kafkaErr, []string{"HEALTHCODE_KAFKA_SASL_PASSWORD", "--kafka-sasl-password-file"}},
		{"user without mechanism", map[string]string{"HEALTHCODE_KAFKA_SASL_USER": "u"}, []string{"--brokers", "b:1"}, kafkaErr, []string{"--kafka-sasl-mechanism"}},
		{"missing ca", nil, []string{"--brokers", "b:1", "--kafka-tls-ca", missing}, kafkaErr, []string{"--kafka-tls-ca", "missing.pem"}},
		{"cert without key", map[string]string{"HEALTHCODE_KAFKA_TLS_CERT": writeFile(t, dir, "c.pem", "x")}, []string{"--brokers", "b:1"}, kafkaErr, []string{"--kafka-tls-cert", "--kafka-tls-key"}},
		{"tls on the embedded broker", map[string]string{"HEALTHCODE_KAFKA_TLS": "1"}, nil, kafkaErr, []string{"--brokers"}},
		{"bad bool in env", map[string]string{"HEALTHCODE_CLICKHOUSE_TLS": "maybe"}, nil, chErr, []string{"HEALTHCODE_CLICKHOUSE_TLS", "--clickhouse-tls"}},
		{"missing password file", nil, []string{"--clickhouse-password-file", missing}, chErr, []string{"--clickhouse-password-file"}},
		{"empty password file", nil, []string{"--clickhouse-password-file", writeFile(t, dir, "empty", "\n")}, chErr, []string{"--clickhouse-password-file", "empty"}},
		{"two password sources in env", map[string]string{"HEALTHCODE_CLICKHOUSE_PASSWORD": "a", "HEALTHCODE_CLICKHOUSE_PASSWORD_FILE": writeFile(t, dir, "pw", "b")}, nil, chErr, []string{"HEALTHCODE_CLICKHOUSE_PASSWORD", "--clickhouse-password-file"}},
		{"two keys on argv", nil, []string{"--pseudonym-key", "a", "--pseudonym-key-file", writeFile(t, dir, "k", "b")}, keyErr, []string{"--pseudonym-key", "--pseudonym-key-file"}},
		{"no key", nil, nil, keyErr, []string{"HEALTHCODE_PSEUDONYM_KEY", "--pseudonym-key-file"}},
		{"topic without name", nil, []string{"--topic", "hc.policy"}, nil, []string{"NAME=TOPIC", "policy"}},
		{"unknown topic name", nil, []string{"--topic", "colours=x"}, nil, []string{`"colours"`, "colour-updates"}},
		{"topic given twice", nil, []string{"--topic", "policy=a", "--topic", "policy=b"}, nil, []string{"policy given twice"}},
		{"bad topic in env", map[string]string{"HEALTHCODE_TOPICS": "policy=a b"}, nil, topicErr, []string{"HEALTHCODE_TOPICS", "policy"}},
		{"two names one topic", nil, []string{"--topic", "policy=shared", "--topic", "dead-letter=shared"}, topicErr, []string{"dead-letter and policy", "shared"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearSettingsEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			s, err := parseSettings(t, c.args...)
			if c.check == nil {
				wantErr(t, err, c.want...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, c.check(s), c.want...)
		})
	}
	// A flag on argv overrides a variable that does not parse.
	clearSettingsEnv(t)
	t.Setenv("HEALTHCODE_CLICKHOUSE_TLS", "maybe")
	s, err := parseSettings(t, "--clickhouse-tls=false")
	if err != nil {
		t.Fatal(err)
	}
	if err := chErr(s); err != nil {
		t.Errorf("--clickhouse-tls given: %v", err)
	}
}

func kafkaErr(s *settings) error { _, err := s.kafka.config(); return err }
func chErr(s *settings) error    { _, err := s.ch.options(); return err }
func keyErr(s *settings) error   { _, err := s.key.resolve(false); return err }
func topicErr(s *settings) error { _, err := s.topics.topics(); return err }

// TestSettings_HelpShowsNoSecret: --help prints built-in defaults, never the
// environment's values.
func TestSettings_HelpShowsNoSecret(t *testing.T) {
	clearSettingsEnv(t)
	t.Setenv("HEALTHCODE_PSEUDONYM_KEY", "key-in-env-0123")
	t.Setenv("HEALTHCODE_KAFKA_SASL_PASSWORD", "pw-in-env-0123")
	t.Setenv("HEALTHCODE_BROKERS", "broker-in-env:1")
	s, err := parseSettings(t)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.fs.SetOutput(&out)
	s.fs.PrintDefaults()
	for _, secret := range []string{"key-in-env-0123", "pw-in-env-0123", "broker-in-env"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("--help shows %q", secret)
		}
	}
	if !strings.Contains(out.String(), "(env HEALTHCODE_PSEUDONYM_KEY)") {
		t.Errorf("--help does not name the variable:\n%s", out.String())
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns the
// certificate and the CA file (the certificate itself).
func selfSigned(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "healthcode test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// TestSettings_KafkaTLSAndSASL publishes a policy through a broker that
// demands TLS and SASL, with every setting from the environment or a file,
// once per mechanism; a wrong password is refused.
func TestSettings_KafkaTLSAndSASL(t *testing.T) {
	dir := t.TempDir()
	cert, caFile := selfSigned(t, dir)
	pol := filepath.Join(dir, "policy.json")
	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pol, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"plain", "scram-sha-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(strings.ToUpper(mech), "hc", "pw-for-tests"),
				kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			clearSettingsEnv(t)
			t.Setenv("HEALTHCODE_BROKERS", strings.Join(c.ListenAddrs(), ","))
			t.Setenv("HEALTHCODE_KAFKA_TLS_CA", caFile)
			t.Setenv("HEALTHCODE_KAFKA_SASL_MECHANISM", mech)
			t.Setenv("HEALTHCODE_KAFKA_SASL_USER", "hc")
			args := []string{"publish", pol, "--topic", "policy=prov.policy"}
			if mech == "plain" {
				t.Setenv("HEALTHCODE_KAFKA_SASL_PASSWORD", "pw-for-tests")
			} else {
				args = append(args, "--kafka-sasl-password-file", writeFile(t, dir, "pw", "pw-for-tests\n"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out bytes.Buffer
			if err := policyCmd(ctx, args, &out); err != nil {
				t.Fatalf("policy publish: %v", err)
			}
			if !strings.Contains(out.String(), "to prov.policy") {
				t.Errorf("output %q", out.String())
			}
			t.Setenv("HEALTHCODE_KAFKA_SASL_PASSWORD", "wrong")
			bad := []string{"publish", pol}
			if err := policyCmd(ctx, bad, &out); err == nil {
				t.Error("a wrong password was accepted")
			} else if strings.Contains(err.Error(), "wrong") {
				t.Errorf("the error quotes the password: %v", err)
			} else {
				t.Logf("wrong password: %v", err)
			}
		})
	}
}

// TestSettings_ClickHouse runs explain against the real server with the
// database from the environment, and with a wrong password from a file.
func TestSettings_ClickHouse(t *testing.T) {
	opts := chtest.Start(t)
	clearSettingsEnv(t)
	t.Setenv("HEALTHCODE_CLICKHOUSE_ADDR", opts.Addr)
	t.Setenv("HEALTHCODE_CLICKHOUSE_DB", opts.Database)
	key := strings.Repeat("ab", 16)
	var out bytes.Buffer
	if err := explainCmd(context.Background(), []string{key}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no colour issued") {
		t.Errorf("explain: %q", out.String())
	}
	pw := writeFile(t, t.TempDir(), "pw", "not-the-password\n")
	err := explainCmd(context.Background(), []string{key, "--clickhouse-user", "nobody_here", "--clickhouse-password-file", pw}, &out)
	if err == nil {
		t.Fatal("an unknown user with a wrong password was accepted")
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error quotes the password: %v", err)
	}
	t.Logf("wrong user and password: %v", err)
}
