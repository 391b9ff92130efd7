package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// KafkaOptions configure every Kafka client of the pipeline. The zero value is
// valid but for Brokers.
type KafkaOptions struct {
	Brokers  []string // bootstrap brokers, host:port; required
	ClientID string   // client id sent to the brokers; default "healthcode"

	// Producers (NewWriter).
	BatchTimeout time.Duration // longest a partial batch waits before it is sent; default 5ms
	BatchSize    int           // messages per produce batch and partition; default 10000
	// BatchBytes bounds a produce batch, and so a single message, in
	// uncompressed bytes; default 1 MiB. Kafka refuses batches above the
	// broker's message.max.bytes (1 MiB by default, kfake too), so raise both
	// together. Keep one hc.person-events message well below it.
	BatchBytes int64

	// Consumers (NewGroupReader, RunPartitioned).
	// FetchMaxWait is how long the broker holds a fetch that finds no data
	// (with data it answers at once); default 250ms. It bounds how long
	// closing a reader takes. kafka-go gives the broker 3/4 of it and times
	// the connection out at all of it, so much lower values make a loaded
	// machine see spurious i/o timeouts and reconnects.
	FetchMaxWait  time.Duration
	FetchMaxBytes int // bytes per fetch response; default 16 MiB
	QueueCapacity int // messages a group reader buffers ahead of its caller; default 10000
	// ClaimQueueCapacity is QueueCapacity for the partition readers of
	// RunPartitioned, whose messages are large batches; default 256.
	ClaimQueueCapacity int
	// CommitInterval is how often a group reader sends the offsets passed to
	// CommitMessages to the broker; default 500ms. See NewGroupReader.
	CommitInterval time.Duration

	// Consumer groups.
	HeartbeatInterval time.Duration // also how soon a member notices a rebalance; default 1s
	SessionTimeout    time.Duration // a member silent this long is dropped; default 10s (brokers refuse under 6s by default)
	RebalanceTimeout  time.Duration // how long members have to stop their partitions and rejoin; default 30s
	// RetryBackoff is the first wait before a failed partition handler runs
	// again, or a failed group join is retried; it doubles up to 30s.
	// Default 1s.
	RetryBackoff time.Duration

	Logger *slog.Logger // default slog.Default()
}

const maxRetryBackoff = 30 * time.Second

func (o KafkaOptions) withDefaults() KafkaOptions {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if o.ClientID == "" {
		o.ClientID = "healthcode"
	}
	def(&o.BatchTimeout, 5*time.Millisecond)
	if o.BatchSize <= 0 {
		o.BatchSize = 10000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	def(&o.FetchMaxWait, 250*time.Millisecond)
	if o.FetchMaxBytes <= 0 {
		o.FetchMaxBytes = 16 << 20
	}
	if o.QueueCapacity <= 0 {
		o.QueueCapacity = 10000
	}
	if o.ClaimQueueCapacity <= 0 {
		o.ClaimQueueCapacity = 256
	}
	def(&o.CommitInterval, 500*time.Millisecond)
	def(&o.HeartbeatInterval, time.Second)
	def(&o.SessionTimeout, 10*time.Second)
	def(&o.RebalanceTimeout, 30*time.Second)
	def(&o.RetryBackoff, time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// validate checks options that have had their defaults filled in.
func (o KafkaOptions) validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	if o.HeartbeatInterval >= o.SessionTimeout {
		return fmt.Errorf("kafka: heartbeat interval %v must be below session timeout %v", o.HeartbeatInterval, o.SessionTimeout)
	}
	if int64(o.FetchMaxBytes) < o.BatchBytes {
		return fmt.Errorf("kafka: fetch max bytes %d below batch bytes %d: a consumer could not fetch what a producer writes", o.FetchMaxBytes, o.BatchBytes)
	}
	return nil
}

func (o KafkaOptions) dialer() *kafka.Dialer {
	return &kafka.Dialer{ClientID: o.ClientID, Timeout: 10 * time.Second, DualStack: true}
}

// errorLogger adapts slog for kafka-go's internal error reports (failed
// attempts it retries by itself), at warn level and at most one line per
// 10s per client, since kafka-go logs every attempt of its retry loops.
func errorLogger(log *slog.Logger, client string) kafka.Logger {
	t := &throttle{period: 10 * time.Second}
	return kafka.LoggerFunc(func(format string, args ...any) {
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

// NewWriter returns a producer for topic: every write waits for all in-sync
// replicas (RequireAll), batches are lz4-compressed, and topics are never
// auto-created (EnsureTopics creates them). A nil balancer means &kafka.Hash{}
// (FNV-1a of the key, as Sarama). Close the writer to flush it and release its
// connections.
//
// With no Brokers the writer fails every write.
func (o KafkaOptions) NewWriter(topic string, balancer kafka.Balancer) *kafka.Writer {
	o = o.withDefaults()
	if balancer == nil {
		balancer = &kafka.Hash{}
	}
	if len(o.Brokers) == 0 {
		return &kafka.Writer{Topic: topic} // nil Addr: WriteMessages returns an error
	}
	// kafka.NewWriter is deprecated in favour of a Writer literal, but it is
	// the only constructor whose Close also closes the connection pool it
	// creates (the literal form needs a Transport that nobody closes), and
	// it carries ClientID through the Dialer.
	w := kafka.NewWriter(kafka.WriterConfig{ //nolint:staticcheck // see above
		Brokers:      o.Brokers,
		Topic:        topic,
		Dialer:       o.dialer(),
		Balancer:     balancer,
		BatchSize:    o.BatchSize,
		BatchBytes:   int(o.BatchBytes),
		BatchTimeout: o.BatchTimeout,
		RequiredAcks: int(kafka.RequireAll),
		ErrorLogger:  errorLogger(o.Logger, "writer "+topic),
	})
	w.RequiredAcks = kafka.RequireAll
	w.Compression = kafka.Lz4
	w.AllowAutoTopicCreation = false
	return w
}

// PartitionBalancer routes every message to the partition in its Partition
// field, which the caller sets: hc.person-events and the scoring changelog carry
// many persons of one partition per message, at scoring.PersonKey.Partition(n).
//
// kafka-go documents Message.Partition as read-only for writers, but its Writer
// passes each Message unchanged to Balance and then writes to whatever
// partition Balance returns (writer.go, WriteMessages); it overwrites
// Partition only in its completion report. A partition the topic does not
// have fails the write (after the writer's retries) rather than being moved
// silently to another one.
type PartitionBalancer struct{}

// Balance returns msg.Partition.
func (PartitionBalancer) Balance(msg kafka.Message, partitions ...int) int { return msg.Partition }

// TopicSpec is a topic EnsureTopics creates if it is missing.
type TopicSpec struct {
	Name       string
	Partitions int  // required, > 0
	Compacted  bool // cleanup.policy=compact (reference data, changelogs)
	// Retention, when positive, sets retention.ms (a topic that must hold a
	// look-back, such as hc.presence); zero leaves the broker's default.
	Retention time.Duration
	// ReplicationFactor defaults to min(3, number of brokers).
	ReplicationFactor int
}

// adminTimeout bounds one admin round trip.
const adminTimeout = 10 * time.Second

// withClient runs fn with a kafka.Client on a transport of its own, closed
// afterwards. A fresh transport matters: a shared one answers metadata from a
// cache refreshed only every few seconds, and partition counts and topic
// existence must be current.
func withClient(brokers []string, fn func(*kafka.Client) error) error {
	if len(brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	tr := &kafka.Transport{ClientID: "healthcode", DialTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	return fn(&kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: adminTimeout})
}

// metadata returns fresh metadata for topics (all topics if none). It never
// creates a topic, unlike kafka.Conn.ReadPartitions, which asks the broker to
// auto-create.
func metadata(ctx context.Context, brokers []string, topics ...string) (*kafka.MetadataResponse, error) {
	var res *kafka.MetadataResponse
	err := withClient(brokers, func(c *kafka.Client) error {
		var err error
		res, err = c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		return err
	})
	return res, err
}

// EnsureTopics creates the topics of specs that do not exist yet, through the
// controller, and waits until metadata shows each created topic with its
// partition count and a leader for every partition. Topics that exist are
// left as they are, whatever their partition count (PartitionCount tells).
// It is idempotent and safe to race with another process doing the same.
func EnsureTopics(ctx context.Context, brokers []string, specs ...TopicSpec) error {
	for _, s := range specs {
		if s.Name == "" || s.Partitions <= 0 {
			return fmt.Errorf("ensure topics: topic %q with %d partitions", s.Name, s.Partitions)
		}
	}
	meta, err := metadata(ctx, brokers)
	if err != nil {
		return fmt.Errorf("ensure topics: metadata: %w", err)
	}
	existing := map[string]bool{}
	for _, t := range meta.Topics {
		if t.Error == nil {
			existing[t.Name] = true
		}
	}
	var create []kafka.TopicConfig
	want := map[string]int{}
	for _, s := range specs {
		if existing[s.Name] {
			continue
		}
		rf := s.ReplicationFactor
		if rf <= 0 {
			rf = min(3, len(meta.Brokers))
		}
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: rf}
		if s.Compacted {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		}
		if s.Retention > 0 {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms",
				ConfigValue: strconv.FormatInt(s.Retention.Milliseconds(), 10)})
		}
		create = append(create, tc)
		want[s.Name] = s.Partitions
	}
	if len(create) == 0 {
		return nil
	}
	err = withClient(brokers, func(c *kafka.Client) error {
		res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
		if err != nil {
			return err
		}
		for name, err := range res.Errors {
			if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
				return fmt.Errorf("create %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	// Creation is asynchronous on a real cluster: wait for every partition
	// to have a leader.
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		meta, err := metadata(ctx, brokers, names...)
		pending := ""
		if err != nil {
			pending = err.Error()
		} else {
			pending = pendingTopics(meta, want)
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure topics: waiting for %s: %w", pending, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// pendingTopics names the first topic of want that meta does not show ready.
func pendingTopics(meta *kafka.MetadataResponse, want map[string]int) string {
	ready := 0
	for _, t := range meta.Topics {
		n, ok := want[t.Name]
		if !ok {
			continue
		}
		if t.Error != nil || len(t.Partitions) != n {
			return fmt.Sprintf("%s (%d of %d partitions)", t.Name, len(t.Partitions), n)
		}
		for _, p := range t.Partitions {
			if p.Leader.Host == "" {
				return fmt.Sprintf("%s (partition %d without a leader)", t.Name, p.ID)
			}
		}
		ready++
	}
	if ready != len(want) {
		return fmt.Sprintf("%d of %d topics", len(want)-ready, len(want))
	}
	return ""
}

// PartitionCount returns the number of partitions of topic, from fresh
// metadata. A missing topic is an error (it is not auto-created).
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	meta, err := metadata(ctx, brokers, topic)
	if err != nil {
		return 0, fmt.Errorf("partition count of %s: %w", topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("partition count of %s: %w", topic, t.Error)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("partition count of %s: %w", topic, kafka.UnknownTopicOrPartition)
}
