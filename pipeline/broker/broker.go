// Package broker owns the embedded Kafka-protocol broker (franz-go's kfake)
// that healthcode runs in process when no broker is configured: `healthcode
// run` starts one without --brokers, and `healthcode broker` runs one as a
// process of its own for several workers. It listens on loopback only, since
// it has no authentication. What it keeps across a crash of its process is
// measured in docs/operations.md ("The embedded broker").
//
// It also owns the session reaper (sessions.go), which evicts a consumer-group
// member whose session has expired where kfake would keep it: Kafka's rule
// that every member of a stable group heartbeats or is removed.
//
// It knows nothing of the pipeline or of the Kafka client the pipeline uses
// (healthcode/pipeline/kafka); it must import neither. It speaks to its own
// broker with franz-go's kgo and kmsg only.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure the embedded broker. The zero value is valid: an
// in-memory broker on a free loopback port.
type Options struct {
	DataDir    string // directory for logs, offsets and groups, reloaded on the next start; default "": in memory, lost on Close
	Port       int    // loopback TCP port; default 0: one chosen by the kernel
	Partitions int    // partitions of topics created without a count (auto-created topics); default 8
	// SyncWrites fsyncs every produced batch and every group-log entry
	// (offset commits) with a DataDir; default false: written to the OS page
	// cache as they come, fsynced on segment roll and Close, which survives
	// a crash of the process but not of the machine.
	SyncWrites bool
	Logger     *slog.Logger // receives the broker's errors (and warnings at debug level) and the reaper's evictions; default slog.Default()

	noReaper bool // tests only: Start leaves the session reaper's loop stopped (startReaper starts it)
}

func (o *Options) setDefaults() {
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("embedded broker: port %d out of range", o.Port)
	}
	if o.Partitions < 0 {
		return fmt.Errorf("embedded broker: %d partitions", o.Partitions)
	}
	return nil
}

// Broker is a single-broker Kafka-protocol server in this process (franz-go's
// kfake), used when no broker is configured. The pipeline still speaks Kafka to
// it through kafka-go. Its limits are Kafka's defaults (a 1 MiB produce batch,
// a 6 s minimum group session), so what works here works on a real cluster.
type Broker struct {
	c        *kfake.Cluster
	addrs    []string
	sessions *sessions

	// The reaper's loop: its client of this broker, the cancel that stops
	// it and the wait for it, set by startReaper.
	reaper    *kgo.Client
	stopReap  context.CancelFunc
	reapDone  sync.WaitGroup
	closeOnce sync.Once
}

// Start starts a broker listening on 127.0.0.1 only.
func Start(o Options) (*Broker, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listenLoopback),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.ClusterID("healthcode-embedded"),
		kfake.WithLogger(kfakeLogger{o.Logger}),
	}
	if o.Port != 0 {
		opts = append(opts, kfake.Ports(o.Port))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
		if o.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	b := &Broker{c: c, addrs: c.ListenAddrs(), sessions: newSessions(o.Logger)}
	b.sessions.watch(c)
	if !o.noReaper {
		if err := b.startReaper(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return b, nil
}

// startReaper starts the session reaper's loop (sessions.go) with a client
// of this broker.
func (e *Broker) startReaper() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ClientID("healthcode-session-reaper"))
	if err != nil {
		return fmt.Errorf("embedded broker: session reaper: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.reaper, e.stopReap = cl, cancel
	e.reapDone.Add(1)
	go func() {
		defer e.reapDone.Done()
		e.sessions.run(ctx, cl)
	}()
	return nil
}

// Evictions counts the consumer-group members the session reaper has
// evicted since Start.
func (e *Broker) Evictions() int64 { return e.sessions.evictions.Load() }

// Addrs returns the broker addresses (host:port) to bootstrap from.
func (e *Broker) Addrs() []string { return append([]string(nil), e.addrs...) }

// Close stops the session reaper and the broker; with a DataDir it first
// writes its state there. Calling Close twice is harmless.
func (e *Broker) Close() {
	e.closeOnce.Do(func() {
		if e.stopReap != nil {
			e.stopReap()
			e.reapDone.Wait()
			e.reaper.Close()
		}
		e.c.Close()
	})
}

// listenLoopback is kfake's listen function. kfake already binds 127.0.0.1;
// this refuses anything else should that ever change, since the embedded
// broker has no authentication.
func listenLoopback(network, address string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("embedded broker: refusing to listen on %s: loopback only", address)
	}
	return net.Listen(network, address)
}

// kfakeLogger forwards kfake's errors to slog. Its warnings are mostly failed
// client requests (an unknown topic, a stale group generation) that the
// clients handle, so they go to debug; info and debug are per request and
// dropped.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var to slog.Level
	switch level {
	case kfake.LogLevelError:
		to = slog.LevelError
	case kfake.LogLevelWarn:
		to = slog.LevelDebug
	default:
		return
	}
	if l.log.Enabled(context.Background(), to) {
		l.log.Log(context.Background(), to, "embedded broker: "+fmt.Sprintf(format, args...))
	}
}
