package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"healthcode/pipeline/kafka"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testContext is a context that ends with the test or after d.
func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// client returns a toolkit client of b with test timings.
func client(t *testing.T, b *Broker) *kafka.Client {
	t.Helper()
	c, err := kafka.New(kafka.Config{
		Brokers:           b.Addrs(),
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    6 * time.Second, // kfake's minimum, as Kafka's
		RebalanceTimeout:  5 * time.Second,
		RetryBackoff:      50 * time.Millisecond,
		FetchMaxWait:      50 * time.Millisecond,
		Logger:            testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// produceTo writes values to topic, value i to partition parts[i%len(parts)].
func produceTo(t *testing.T, c *kafka.Client, topic string, values []string, parts ...int) {
	t.Helper()
	w := c.NewWriter(topic, kafka.PartitionBalancer{})
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Value: []byte(v)}
		if len(parts) > 0 {
			msgs[i].Partition = parts[i%len(parts)]
		}
	}
	if err := w.WriteMessages(testContext(t, 10*time.Second), msgs...); err != nil {
		t.Fatal(err)
	}
}

// readPartition reads n messages of one partition from its start.
func readPartition(t *testing.T, c *kafka.Client, topic string, partition, n int) []kafka.Message {
	t.Helper()
	r := c.NewPartitionReader(topic, partition)
	defer r.Close()
	ctx := testContext(t, 10*time.Second)
	var out []kafka.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d messages: %v", topic, partition, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestStart_Loopback(t *testing.T) {
	// A free port, to check that Port is honoured.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	for _, o := range []Options{{}, {Port: port}} {
		e, err := Start(o)
		if err != nil {
			t.Fatal(err)
		}
		addrs := e.Addrs()
		if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
			t.Errorf("Port %d: addrs %v, want one 127.0.0.1 address", o.Port, addrs)
		}
		if o.Port != 0 && addrs[0] != fmt.Sprintf("127.0.0.1:%d", port) {
			t.Errorf("addrs %v, want port %d", addrs, port)
		}
		e.Close()
		e.Close() // twice is harmless
	}
	if _, err := listenLoopback("tcp", "0.0.0.0:0"); err == nil {
		t.Error("listenLoopback accepted 0.0.0.0")
	}
	if _, err := Start(Options{Port: 70000}); err == nil {
		t.Error("port 70000 accepted")
	}
}

func TestStart_AutoCreatesWithDefaultPartitions(t *testing.T) {
	e, err := Start(Options{Partitions: 3, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// kafka.Conn.ReadPartitions asks for auto-creation, as kafka-go's group
	// code does.
	conn, err := kafkago.Dial("tcp", e.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ReadPartitions("auto"); err != nil {
		t.Fatal(err)
	}
	n, err := client(t, e).PartitionCount(testContext(t, 10*time.Second), "auto")
	if err != nil || n != 3 {
		t.Fatalf("auto-created topic: %d partitions, %v; want 3", n, err)
	}
}

func TestStart_DataDirPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t, 30*time.Second)
	start := func() (*Broker, *kafka.Client) {
		e, err := Start(Options{DataDir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return e, client(t, e)
	}

	e, o := start()
	if err := o.EnsureTopics(ctx, kafka.TopicSpec{Name: "kept", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	produceTo(t, o, "kept", []string{"a", "b", "c", "d"}, 0, 1)
	// A committed group offset must survive too.
	r := o.NewGroupReader(ctx, "g", "kept")
	var got []kafka.Message
	for len(got) < 2 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if err := r.CommitMessages(ctx, got...); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // flushes the commit
		t.Fatal(err)
	}
	e.Close()

	e, o = start()
	defer e.Close()
	if n, err := o.PartitionCount(ctx, "kept"); err != nil || n != 2 {
		t.Fatalf("after restart: %d partitions, %v", n, err)
	}
	var values []string
	for p := 0; p < 2; p++ {
		for _, m := range readPartition(t, o, "kept", p, 2) {
			values = append(values, string(m.Value))
		}
	}
	if strings.Join(values, "") != "acbd" {
		t.Errorf("after restart: values %q, want a c b d", values)
	}
	lag, err := o.Lag(ctx, "g", "kept")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, p := range lag {
		committed += max(p.Committed, 0)
	}
	if committed != 2 {
		t.Errorf("after restart: committed offsets sum to %d, want 2 (%+v)", committed, lag)
	}
}
