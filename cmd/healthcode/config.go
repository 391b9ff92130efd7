package main

// The one home of the settings several commands share: Kafka (brokers, TLS,
// SASL), ClickHouse (address, database, user, password, TLS, cluster), the
// pseudonym key, the consumer-group prefix and topic names. Each is a flag
// with an environment variable (a flag given on the command line overrides
// its variable); secrets come from the environment or a file, never only from
// argv. docs/operations.md "Settings" lists them all (settings_test.go checks).

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"healthcode/pipeline/kafka"
	"healthcode/sinks/clickhouse"
)

// devPseudonymKey is used only by the embedded demo when no key is configured;
// every run that uses it says so. Production must configure its own secret.
const devPseudonymKey = "healthcode-DEVELOPMENT-key-not-for-production"

// Environment variables that hold a secret itself; each has a flag naming a
// file instead (the secret is never a flag value but for --pseudonym-key).
const (
	envKafkaPassword      = "HEALTHCODE_KAFKA_SASL_PASSWORD"
	envClickHousePassword = clickhouse.EnvPassword // HEALTHCODE_CLICKHOUSE_PASSWORD
)

// envFlag is a flag backed by an environment variable: the variable's value
// is applied when the flag is registered, so that the command line, parsed
// later, overrides it, and --help shows the built-in default, never the
// variable's value (which may be a secret).
type envFlag struct {
	flag.Value
	name, env string
	fromArgv  bool  // set on the command line
	envErr    error // the variable's value did not parse; reported unless the flag overrides it
}

func (e *envFlag) String() string {
	if e == nil || e.Value == nil {
		return ""
	}
	return e.Value.String()
}

func (e *envFlag) Set(s string) error {
	e.fromArgv, e.envErr = true, nil
	return e.Value.Set(s)
}

func (e *envFlag) IsBoolFlag() bool {
	b, ok := e.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// envVar registers v as flag name with environment variable env; the usage
// gains "(env ENV)".
func envVar(fs *flag.FlagSet, v flag.Value, name, env, usage string) *envFlag {
	e := &envFlag{Value: v, name: name, env: env}
	fs.Var(e, name, usage+" (env "+env+")")
	if s := os.Getenv(env); s != "" {
		if err := v.Set(s); err != nil {
			e.envErr = fmt.Errorf("%s (for --%s): %w", env, name, err)
		}
	}
	return e
}

type stringValue struct{ p *string }

func (s stringValue) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}
func (s stringValue) Set(v string) error { *s.p = v; return nil }

type boolValue struct{ p *bool }

func (b boolValue) String() string {
	if b.p == nil || !*b.p {
		return "" // so that --help shows no "(default false)"
	}
	return "true"
}
func (b boolValue) IsBoolFlag() bool { return true }
func (b boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b.p = x
	return nil
}

func envString(fs *flag.FlagSet, p *string, name, env, def, usage string) *envFlag {
	*p = def
	return envVar(fs, stringValue{p}, name, env, usage)
}

func envBool(fs *flag.FlagSet, p *bool, name, env, usage string) *envFlag {
	return envVar(fs, boolValue{p}, name, env, usage)
}

// envErrors returns the first environment variable that did not parse.
func envErrors(fl ...*envFlag) error {
	for _, f := range fl {
		if f.envErr != nil {
			return f.envErr
		}
	}
	return nil
}

// pickSecret returns a secret given either directly (value, from a flag or
// the variable valueName) or in a file (file). What the command line gives
// wins over the environment; two sources of the same rank are an error.
func pickSecret(value string, valueFromArgv bool, valueName string, file *envFlag, path string) (string, error) {
	if value != "" && path != "" {
		switch {
		case valueFromArgv && !file.fromArgv:
			path = ""
		case file.fromArgv && !valueFromArgv:
			value = ""
		default:
			return "", fmt.Errorf("%s and --%s are both set: give one", valueName, file.name)
		}
	}
	if path == "" {
		return value, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", file.name, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("--%s: file %s is empty", file.name, path)
	}
	return s, nil
}

// checkFiles reads every named file given, so that a missing or unreadable
// one is reported under its flag before any connection is tried.
func checkFiles(fl ...*envFlag) error {
	for _, f := range fl {
		if p := f.String(); p != "" {
			if _, err := os.ReadFile(p); err != nil {
				return fmt.Errorf("--%s: %w", f.name, err)
			}
		}
	}
	return nil
}

// kafkaFlags are the Kafka connection settings.
type kafkaFlags struct {
	brokers, ca, cert, key, mech, user, pwFile string
	tls                                        bool
	fl                                         []*envFlag
	pwFlag                                     *envFlag
}

func addKafkaFlags(fs *flag.FlagSet, brokersUsage string) *kafkaFlags {
	k := &kafkaFlags{}
	k.fl = []*envFlag{
		envString(fs, &k.brokers, "brokers", "HEALTHCODE_BROKERS", "", "Kafka bootstrap `BROKERS`, host:port, comma-separated; "+brokersUsage),
		envBool(fs, &k.tls, "kafka-tls", "HEALTHCODE_KAFKA_TLS", "connect to Kafka over TLS with the system's roots (implied by the other --kafka-tls-* flags)"),
		envString(fs, &k.ca, "kafka-tls-ca", "HEALTHCODE_KAFKA_TLS_CA", "", "PEM `FILE` of the CAs the brokers' certificates must chain to"),
		envString(fs, &k.cert, "kafka-tls-cert", "HEALTHCODE_KAFKA_TLS_CERT", "", "PEM client certificate `FILE`, for mutual TLS; needs --kafka-tls-key"),
		envString(fs, &k.key, "kafka-tls-key", "HEALTHCODE_KAFKA_TLS_KEY", "", "PEM `FILE` of the client certificate's key"),
		envString(fs, &k.mech, "kafka-sasl-mechanism", "HEALTHCODE_KAFKA_SASL_MECHANISM", "", "SASL `MECHANISM`: plain or scram-sha-512; empty: none"),
		envString(fs, &k.user, "kafka-sasl-user", "HEALTHCODE_KAFKA_SASL_USER", "", "SASL `USER`"),
	}
	k.pwFlag = envString(fs, &k.pwFile, "kafka-sasl-password-file", "HEALTHCODE_KAFKA_SASL_PASSWORD_FILE", "",
		"`FILE` holding the SASL password; or the password itself in env "+envKafkaPassword)
	k.fl = append(k.fl, k.pwFlag)
	return k
}

// secure reports whether any TLS or SASL setting is given.
func (k *kafkaFlags) secure() bool {
	return k.tls || k.ca != "" || k.cert != "" || k.key != "" || k.mech != "" || k.user != "" || k.pwFile != "" || os.Getenv(envKafkaPassword) != ""
}

// config returns the Kafka settings; Brokers is empty when --brokers is.
func (k *kafkaFlags) config() (kafka.Config, error) {
	if err := envErrors(k.fl...); err != nil {
		return kafka.Config{}, err
	}
	c := kafka.Config{Brokers: splitList(k.brokers)}
	if k.secure() && len(c.Brokers) == 0 {
		return c, errors.New("the --kafka-tls-* and --kafka-sasl-* settings need --brokers (the embedded broker is plaintext)")
	}
	if err := checkFiles(k.fl[2:5]...); err != nil {
		return c, err
	}
	if (k.cert == "") != (k.key == "") {
		return c, errors.New("--kafka-tls-cert and --kafka-tls-key go together: give both or neither")
	}
	c.TLS = kafka.TLSConfig{Enabled: k.tls, CAFile: k.ca, CertFile: k.cert, KeyFile: k.key}
	pw, err := pickSecret(os.Getenv(envKafkaPassword), false, envKafkaPassword, k.pwFlag, k.pwFile)
	if err != nil {
		return c, err
	}
	switch strings.ToLower(k.mech) {
	case "":
		if k.user != "" || pw != "" {
			return c, errors.New("a Kafka SASL user or password is set but --kafka-sasl-mechanism is not")
		}
		return c, nil
	case "plain":
		c.SASL.Mechanism = kafka.SASLPlain
	case "scram-sha-512":
		c.SASL.Mechanism = kafka.SASLScramSHA512
	default:
		return c, fmt.Errorf("--kafka-sasl-mechanism %q: want plain or scram-sha-512", k.mech)
	}
	if k.user == "" {
		return c, fmt.Errorf("--kafka-sasl-mechanism %s needs --kafka-sasl-user", k.mech)
	}
	if pw == "" {
		return c, fmt.Errorf("--kafka-sasl-mechanism %s needs a password: %s or --kafka-sasl-password-file", k.mech, envKafkaPassword)
	}
	c.SASL.Username, c.SASL.Password = k.user, pw
	return c, nil
}

// clickHouseFlags are the ClickHouse connection settings.
type clickHouseFlags struct {
	addr, db, user, pwFile, ca, cert, key, cluster string
	tls                                            bool
	fl                                             []*envFlag
	pwFlag                                         *envFlag
}

// addClickHouseFlags registers the ClickHouse settings; withDB adds
// --clickhouse-db (bench has a prefix of its own instead).
func addClickHouseFlags(fs *flag.FlagSet, withDB bool) *clickHouseFlags {
	c := &clickHouseFlags{}
	c.fl = []*envFlag{
		envString(fs, &c.addr, "clickhouse", clickhouse.EnvAddr, clickhouse.DefaultAddr, "ClickHouse native-protocol `ADDR`ess, host:port (9440 with TLS on most servers)"),
		envString(fs, &c.user, "clickhouse-user", clickhouse.EnvUser, clickhouse.DefaultUser, "ClickHouse `USER`"),
		envBool(fs, &c.tls, "clickhouse-tls", "HEALTHCODE_CLICKHOUSE_TLS", "connect to ClickHouse over TLS (implied by the other --clickhouse-tls-* flags)"),
		envString(fs, &c.ca, "clickhouse-tls-ca", "HEALTHCODE_CLICKHOUSE_TLS_CA", "", "PEM `FILE` of the CAs that sign the server's certificate; default the system's roots"),
		envString(fs, &c.cert, "clickhouse-tls-cert", "HEALTHCODE_CLICKHOUSE_TLS_CERT", "", "PEM client certificate `FILE`; needs --clickhouse-tls-key"),
		envString(fs, &c.key, "clickhouse-tls-key", "HEALTHCODE_CLICKHOUSE_TLS_KEY", "", "PEM `FILE` of the client certificate's key"),
		envString(fs, &c.cluster, "clickhouse-cluster", "HEALTHCODE_CLICKHOUSE_CLUSTER", "", "ClickHouse cluster `NAME` (a remote_servers entry): Replicated tables under Distributed ones; empty: one server"),
	}
	c.pwFlag = envString(fs, &c.pwFile, "clickhouse-password-file", "HEALTHCODE_CLICKHOUSE_PASSWORD_FILE", "",
		"`FILE` holding the ClickHouse password; or the password itself in env "+envClickHousePassword)
	c.fl = append(c.fl, c.pwFlag)
	if withDB {
		c.fl = append(c.fl, envString(fs, &c.db, "clickhouse-db", "HEALTHCODE_CLICKHOUSE_DB", clickhouse.DefaultDatabase,
			"ClickHouse `DATABASE`; created if missing, migrations applied"))
	}
	return c
}

// options returns the ClickHouse settings (Database empty without --clickhouse-db).
func (c *clickHouseFlags) options() (clickhouse.Options, error) {
	if err := envErrors(c.fl...); err != nil {
		return clickhouse.Options{}, err
	}
	if err := checkFiles(c.fl[3:6]...); err != nil {
		return clickhouse.Options{}, err
	}
	pw, err := pickSecret(os.Getenv(envClickHousePassword), false, envClickHousePassword, c.pwFlag, c.pwFile)
	if err != nil {
		return clickhouse.Options{}, err
	}
	return clickhouse.Options{Addr: c.addr, Database: c.db, User: c.user, Password: pw,
		TLS: c.tls || c.ca != "" || c.cert != "" || c.key != "", TLSCAFile: c.ca, TLSCertFile: c.cert, TLSKeyFile: c.key,
		Cluster: c.cluster}, nil
}

// keyFlags are the pseudonym key's settings.
type keyFlags struct {
	key, file    string
	kFlag, fFlag *envFlag
}

func addKeyFlags(fs *flag.FlagSet) *keyFlags {
	k := &keyFlags{}
	k.kFlag = envString(fs, &k.key, "pseudonym-key", "HEALTHCODE_PSEUDONYM_KEY", "",
		"HMAC secret of person keys (`KEY`); prefer the variable or --pseudonym-key-file: a flag shows in the process list")
	k.fFlag = envString(fs, &k.file, "pseudonym-key-file", "HEALTHCODE_PSEUDONYM_KEY_FILE", "", "`FILE` holding the pseudonym secret")
	return k
}

// secret returns the configured key, or nil when there is none.
func (k *keyFlags) secret() ([]byte, error) {
	s, err := pickSecret(k.key, k.kFlag.fromArgv, "--pseudonym-key", k.fFlag, k.file)
	if err != nil || s == "" {
		return nil, err
	}
	return []byte(s), nil
}

// resolve returns the pseudonym key, falling back to the development key
// only when allowed (the embedded demo), and warns when it does.
func (k *keyFlags) resolve(allowDev bool) ([]byte, error) {
	key, err := k.secret()
	if err != nil || key != nil {
		return key, err
	}
	if !allowDev {
		return nil, errors.New("no pseudonym key: set HEALTHCODE_PSEUDONYM_KEY, --pseudonym-key-file or --pseudonym-key")
	}
	slog.Warn("using the fixed DEVELOPMENT pseudonym key: fine for the embedded demo, never for real data")
	return []byte(devPseudonymKey), nil
}

// addGroupPrefixFlag registers --group-prefix.
func addGroupPrefixFlag(fs *flag.FlagSet) *string {
	p := new(string)
	envString(fs, p, "group-prefix", "HEALTHCODE_GROUP_PREFIX", "healthcode-", "`PREFIX` of the consumer-group names (PREFIX + stage)")
	return p
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
