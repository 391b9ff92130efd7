package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// Options configures a Client. The zero value is valid: every field has a default.
type Options struct {
	// Addr is the native-protocol address, host:port. Default "127.0.0.1:9000".
	Addr string
	// Database holds the tables; Open creates it if missing. Letters, digits and
	// underscores, not starting with a digit. Default "healthcode".
	Database string
	// User is the ClickHouse user. Default "default".
	User string
	// Password is the user's password. Default "" (none). Give it from the
	// environment (EnvPassword) or a file (PasswordFile), never only on a
	// command line.
	Password string
	// PasswordFile names a file holding the password (one line; surrounding
	// white space is dropped). Read by Open. Not with Password.
	PasswordFile string

	// TLS makes every connection TLS (the server's tcp_port_secure, 9440 by
	// default). Off by default.
	TLS bool
	// TLSCAFile is a PEM file of the CAs that sign the server's certificate.
	// Default: the system's roots. Needs TLS.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are the PEM client certificate and key, for a
	// server that checks clients. Both or neither. Need TLS.
	TLSCertFile, TLSKeyFile string
	// TLSInsecureSkipVerify accepts any server certificate. Off by default; for
	// tests only. Needs TLS; not with TLSCAFile.
	TLSInsecureSkipVerify bool

	// Cluster, if set, names the cluster (a <remote_servers> entry of the
	// servers' config) the tables are spread over: migrations create each table
	// ON CLUSTER as a Replicated engine named NAME_local, under a Distributed
	// table of the original name; see docs/clickhouse.md. Empty (the default):
	// one server, plain engines.
	Cluster string

	// RetentionDays is how long events and colour changes are kept: DropExpired
	// drops monthly partitions that lie wholly before now minus this many days.
	// 0 means the default, 400.
	RetentionDays int
	// AuditRetentionDays is how long override_audit and override_alerts are
	// kept: the longest of all tables, so it must not be below RetentionDays.
	// 0 means the default, 3660 (ten years).
	AuditRetentionDays int
	// Logger receives migration and retention notes. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock that stamps inserted_at in cluster mode (the writers
	// send it, so that a retried block is identical). Default time.Now.
	Now func() time.Time
}

// Defaults applied by setDefaults.
const (
	DefaultAddr          = "127.0.0.1:9000"
	DefaultDatabase      = "healthcode"
	DefaultUser          = "default"
	DefaultRetentionDays = 400
	// DefaultAuditRetentionDays is ten years of override audit.
	DefaultAuditRetentionDays = 3660
)

// Environment variables a command reads into Options (the package itself
// reads no environment).
const (
	EnvAddr     = "HEALTHCODE_CLICKHOUSE_ADDR"
	EnvUser     = "HEALTHCODE_CLICKHOUSE_USER"
	EnvPassword = "HEALTHCODE_CLICKHOUSE_PASSWORD"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.AuditRetentionDays == 0 {
		o.AuditRetentionDays = max(DefaultAuditRetentionDays, o.RetentionDays)
	}
	if o.RetentionDays == 0 {
		o.RetentionDays = DefaultRetentionDays
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *Options) validate() error {
	if !identRE.MatchString(o.Database) {
		return fmt.Errorf("clickhouse options: database %q: want letters, digits and underscores", o.Database)
	}
	if o.Cluster != "" && !identRE.MatchString(o.Cluster) {
		return fmt.Errorf("clickhouse options: cluster %q: want letters, digits and underscores", o.Cluster)
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("clickhouse options: address %q: want host:port", o.Addr)
	}
	if o.RetentionDays < 0 {
		return fmt.Errorf("clickhouse options: retention days %d: must not be negative", o.RetentionDays)
	}
	if o.AuditRetentionDays < o.RetentionDays {
		return fmt.Errorf("clickhouse options: audit retention days %d is below retention days %d: the override audit is kept longest", o.AuditRetentionDays, o.RetentionDays)
	}
	if o.Password != "" && o.PasswordFile != "" {
		return fmt.Errorf("clickhouse options: password and password file are both set: give one")
	}
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"tls ca file", o.TLSCAFile != ""},
		{"tls cert file", o.TLSCertFile != ""},
		{"tls key file", o.TLSKeyFile != ""},
		{"tls insecure skip verify", o.TLSInsecureSkipVerify},
	} {
		if s.set && !o.TLS {
			return fmt.Errorf("clickhouse options: %s is set but tls is off: turn tls on or drop the %s", s.name, s.name)
		}
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return fmt.Errorf("clickhouse options: tls cert file and tls key file go together: give both or neither")
	}
	if o.TLSInsecureSkipVerify && o.TLSCAFile != "" {
		return fmt.Errorf("clickhouse options: tls insecure skip verify and tls ca file are both set: a CA is pointless when nothing is verified")
	}
	return nil
}

// password returns the password: Password, or the content of PasswordFile.
func (o *Options) password() (string, error) {
	if o.PasswordFile == "" {
		return o.Password, nil
	}
	b, err := os.ReadFile(o.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("clickhouse password file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// tlsConfig returns the TLS configuration, or nil when TLS is off.
func (o *Options) tlsConfig() (*tls.Config, error) {
	if !o.TLS {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(o.Addr)
	conf := &tls.Config{ServerName: host, InsecureSkipVerify: o.TLSInsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse tls ca file: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse tls ca file %s: no PEM certificate in it", o.TLSCAFile)
		}
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse tls client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
