package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"healthcode/pipeline/broker"
)

// startTestBroker starts an in-memory embedded broker for one test.
func startTestBroker(t *testing.T) *broker.Broker {
	t.Helper()
	e, err := broker.Start(broker.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig is a config for b with timings short enough for tests: a
// rebalance is noticed within 100ms.
func testConfig(t *testing.T, b *broker.Broker) Config {
	return Config{
		Brokers:           b.Addrs(),
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    6 * time.Second, // kfake's minimum, as Kafka's
		RebalanceTimeout:  5 * time.Second,
		RetryBackoff:      50 * time.Millisecond,
		Logger:            testLogger(t),
	}
}

// testClient is a client of testConfig.
func testClient(t *testing.T, b *broker.Broker) *Client {
	t.Helper()
	return mustNew(t, testConfig(t, b))
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testContext is a context that ends with the test or after d.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// produceTo writes values to topic, value i to partition parts[i%len(parts)].
func produceTo(t *testing.T, c *Client, topic string, values []string, parts ...int) {
	t.Helper()
	w := c.NewWriter(topic, PartitionBalancer{})
	defer w.Close()
	msgs := make([]Message, len(values))
	for i, v := range values {
		msgs[i] = Message{Value: []byte(v)}
		if len(parts) > 0 {
			msgs[i].Partition = parts[i%len(parts)]
		}
	}
	if err := w.WriteMessages(testContext(t, 10*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

// readPartition reads n messages of one partition from its start.
func readPartition(t *testing.T, c *Client, topic string, partition, n int) []Message {
	t.Helper()
	r := c.NewPartitionReader(topic, partition)
	defer r.Close()
	ctx := testContext(t, 10*time.Second)
	var out []Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d messages: %v", topic, partition, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}
