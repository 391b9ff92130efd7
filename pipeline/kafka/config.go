package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Config configures every Kafka client built from it. The zero value is valid
// but for Brokers.
type Config struct {
	Brokers  []string // bootstrap brokers, host:port; required
	ClientID string   // client id sent to the brokers; default "healthcode"

	// Dialer, when set, is used as given for every connection; ClientID,
	// DialTimeout, TLS and SASL must then be left unset (the Dialer carries
	// its own). kafka-go's writers take only its timeouts, client id, TLS and
	// SASL from it, not its DialFunc. Default: a dialer built from the
	// settings here.
	Dialer *kafkago.Dialer
	TLS    TLSConfig  // default: plaintext
	SASL   SASLConfig // default: no authentication

	DialTimeout time.Duration // bound on opening a connection; default 10s
	// RequestTimeout bounds one admin or offset round trip (metadata, topic
	// creation, list offsets, offset fetch); default 10s.
	RequestTimeout time.Duration

	// Producers (NewWriter).
	BatchTimeout time.Duration // longest a partial batch waits before it is sent; default 5ms
	BatchSize    int           // messages per produce batch and partition; default 10000
	// BatchBytes bounds a produce batch, and so a single message, in
	// uncompressed bytes; default 1 MiB. Kafka refuses batches above the
	// broker's message.max.bytes (1 MiB by default, kfake too), so raise both
	// together.
	BatchBytes int64

	// Consumers (readers of every kind).
	// FetchMaxWait is how long the broker holds a fetch that finds no data
	// (with data it answers at once); default 250ms. It bounds how long
	// closing a reader takes. kafka-go gives the broker 3/4 of it and times
	// the connection out at all of it, so much lower values make a loaded
	// machine see spurious i/o timeouts and reconnects.
	FetchMaxWait  time.Duration
	FetchMaxBytes int // bytes per fetch response; default 16 MiB
	QueueCapacity int // messages a group reader buffers ahead of its caller; default 10000
	// PartitionQueueCapacity is QueueCapacity for single-partition readers
	// (RunPartitioned claims, replays, followers), whose messages may be large
	// batches; default 256.
	PartitionQueueCapacity int
	// CommitInterval is how often a group reader sends the offsets passed to
	// CommitMessages to the broker; default 500ms. See NewGroupReader.
	CommitInterval time.Duration

	// Consumer groups. kafka-go has no static membership (KIP-345), so a
	// member killed without leaving holds its partitions until its session
	// times out: recovery from a crash takes SessionTimeout plus one
	// rebalance (a heartbeat to notice it, a join, a sync). The defaults
	// keep that under 10s; docs/operations.md ("Consumer-group timings")
	// gives the reasoning.
	//
	// HeartbeatInterval is how often a member heartbeats, and so how soon it
	// notices a rebalance; default 500ms.
	HeartbeatInterval time.Duration
	// SessionTimeout: a member silent this long is dropped and its
	// partitions move; default 6s, the lowest a stock broker accepts
	// (group.min.session.timeout.ms; kfake's too).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member to
	// rejoin once a rebalance starts, and so how long a member may take to
	// finish the batches in hand; default 15s. A member that dies during a
	// rebalance delays it by no more than its SessionTimeout.
	RebalanceTimeout time.Duration
	// RetryBackoff is the first wait before a failed partition handler runs
	// again, or a failed group join is retried (kafka-go's join backoff); a
	// handler's backoff doubles up to 30s. Default 500ms.
	RetryBackoff time.Duration

	Logger *slog.Logger // receives kafka-go's retried errors, throttled; default slog.Default()
}

// TLSConfig turns TLS on for every connection. The zero value means plaintext.
type TLSConfig struct {
	Enabled  bool   // TLS with the system's roots; implied by every other field
	CAFile   string // PEM roots the brokers' certificates must chain to; default the system's
	CertFile string // PEM client certificate, for mutual TLS; needs KeyFile
	KeyFile  string // PEM key of CertFile
	// Config, when set, is used as given; the file fields must then be empty.
	Config *tls.Config
}

func (t *TLSConfig) on() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.Config != nil
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLConfig authenticates every connection. The zero value means none.
type SASLConfig struct {
	Mechanism string // SASLPlain or SASLScramSHA512; "" for none
	Username  string
	// Password, or PasswordFile (read by New, trailing newline dropped): one
	// of them with a Mechanism. Take it from the environment or a file, never
	// from a command line.
	Password     string
	PasswordFile string
}

const maxRetryBackoff = 30 * time.Second

func (c *Config) setDefaults() {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.ClientID == "" && c.Dialer == nil {
		c.ClientID = "healthcode"
	}
	if c.Dialer == nil {
		def(&c.DialTimeout, 10*time.Second)
	}
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.BatchTimeout, 5*time.Millisecond)
	if c.BatchSize <= 0 {
		c.BatchSize = 10000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	def(&c.FetchMaxWait, 250*time.Millisecond)
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = 16 << 20
	}
	if c.QueueCapacity <= 0 {
		c.QueueCapacity = 10000
	}
	if c.PartitionQueueCapacity <= 0 {
		c.PartitionQueueCapacity = 256
	}
	def(&c.CommitInterval, 500*time.Millisecond)
	def(&c.HeartbeatInterval, 500*time.Millisecond)
	def(&c.SessionTimeout, 6*time.Second)
	def(&c.RebalanceTimeout, 15*time.Second)
	def(&c.RetryBackoff, 500*time.Millisecond)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// validate checks a config that has had its defaults filled in.
func (c *Config) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	if c.Dialer != nil && (c.ClientID != "" || c.DialTimeout != 0 || c.TLS.on() || c.SASL.Mechanism != "") {
		return errors.New("kafka: a Dialer is given: ClientID, DialTimeout, TLS and SASL belong in it")
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("kafka: heartbeat interval %v must be below session timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	if int64(c.FetchMaxBytes) < c.BatchBytes {
		return fmt.Errorf("kafka: fetch max bytes %d below batch bytes %d: a consumer could not fetch what a producer writes", c.FetchMaxBytes, c.BatchBytes)
	}
	t := &c.TLS
	if t.Config != nil && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "") {
		return errors.New("kafka: TLS config given with TLS files: use one or the other")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("kafka: TLS cert file and key file go together")
	}
	s := &c.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			return errors.New("kafka: SASL credentials without a SASL mechanism")
		}
	case SASLPlain, SASLScramSHA512:
		if s.Username == "" {
			return fmt.Errorf("kafka: SASL %s without a username", s.Mechanism)
		}
		if (s.Password == "") == (s.PasswordFile == "") {
			return fmt.Errorf("kafka: SASL %s needs a password or a password file, not both", s.Mechanism)
		}
	default:
		return fmt.Errorf("kafka: SASL mechanism %q: want %s or %s", s.Mechanism, SASLPlain, SASLScramSHA512)
	}
	return nil
}

// Client builds Kafka clients from one Config. It holds no connection itself
// and is safe for concurrent use.
type Client struct {
	cfg    Config
	dialer *kafkago.Dialer
}

// New fills in cfg's defaults, validates it, loads its TLS files and SASL
// password, and returns a client builder.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, dialer: cfg.Dialer}
	if c.dialer == nil {
		tc, err := buildTLS(&cfg.TLS)
		if err != nil {
			return nil, err
		}
		mech, err := buildSASL(&cfg.SASL)
		if err != nil {
			return nil, err
		}
		c.dialer = &kafkago.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, DualStack: true, TLS: tc, SASLMechanism: mech}
	}
	return c, nil
}

// Config returns the client's configuration, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Brokers returns the bootstrap brokers.
func (c *Client) Brokers() []string { return append([]string(nil), c.cfg.Brokers...) }

func buildTLS(t *TLSConfig) (*tls.Config, error) {
	if !t.on() {
		return nil, nil
	}
	if t.Config != nil {
		return t.Config.Clone(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("kafka: tls ca file holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func buildSASL(s *SASLConfig) (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	pw := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: sasl password file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if s.Mechanism == SASLPlain {
		return plain.Mechanism{Username: s.Username, Password: pw}, nil
	}
	m, err := scram.Mechanism(scram.SHA512, s.Username, pw)
	if err != nil {
		return nil, fmt.Errorf("kafka: sasl %s: %w", s.Mechanism, err)
	}
	return m, nil
}

// transport returns a kafka-go transport of its own for admin and offset
// round trips, to be closed by the caller (CloseIdleConnections). A fresh
// transport matters: kafka-go's shared default answers metadata from a cache
// refreshed only every few seconds, and partition counts and topic existence
// must be current.
func (c *Client) transport() *kafkago.Transport {
	d := c.dialer
	tr := &kafkago.Transport{ClientID: d.ClientID, DialTimeout: d.Timeout, TLS: d.TLS, SASL: d.SASLMechanism}
	if d.DialFunc != nil {
		tr.Dial = d.DialFunc
	}
	return tr
}

// withClient runs fn with a kafka-go admin client on a fresh transport,
// closed afterwards, without the caller's profiler labels (labels.go).
func (c *Client) withClient(ctx context.Context, fn func(*kafkago.Client) error) error {
	tr := c.transport()
	defer tr.CloseIdleConnections()
	var err error
	unlabelled(ctx, func() {
		err = fn(&kafkago.Client{Addr: kafkago.TCP(c.cfg.Brokers...), Transport: tr, Timeout: c.cfg.RequestTimeout})
	})
	return err
}

// errorLogger adapts slog for kafka-go's internal error reports (failed
// attempts it retries by itself), at warn level and at most one line per
// 10s per client, since kafka-go logs every attempt of its retry loops.
func (c *Client) errorLogger(client string) kafkago.Logger {
	log := c.cfg.Logger
	t := &throttle{period: 10 * time.Second}
	return kafkago.LoggerFunc(func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		// A fetch that found an empty partition or waited out its deadline is
		// retried at once and is routine on a busy machine: debug only.
		level := slog.LevelWarn
		if strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "i/o timeout") {
			level = slog.LevelDebug
		}
		if !log.Enabled(context.Background(), level) {
			return
		}
		if ok, dropped := t.allow(time.Now()); ok {
			log.Log(context.Background(), level, "kafka: "+msg, slog.String("client", client), slog.Int("suppressed", dropped))
		}
	})
}

// throttle lets one log line through per period and counts the others.
type throttle struct {
	period  time.Duration
	mu      sync.Mutex // protects next and dropped
	next    time.Time
	dropped int
}

// allow reports whether to log now, and how many lines were suppressed since
// the last one logged.
func (t *throttle) allow(now time.Time) (ok bool, dropped int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.dropped++
		return false, 0
	}
	t.next = now.Add(t.period)
	dropped, t.dropped = t.dropped, 0
	return true, dropped
}
