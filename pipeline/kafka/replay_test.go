package kafka

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"healthcode/pipeline/broker"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestReplay_ReadsUpToEnd(t *testing.T) {
	e := startTestBroker(t)
	c := testClient(t, e)
	ctx := testContext(t, 20*time.Second)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "log", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 10)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceTo(t, c, "log", values, 1)
	var got []string
	err := c.Replay(ctx, "log", 1, 6, func(m *Message) error {
		got = append(got, string(m.Value))
		return nil
	})
	if err != nil || len(got) != 6 || got[5] != "5" {
		t.Fatalf("replay to 6: %v, %v; want 0..5", got, err)
	}
	if err := c.Replay(ctx, "log", 0, 0, func(*Message) error { t.Error("message from an empty range"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestFollow_CaughtUpOnEmptiedPartition follows a partition whose records
// were all deleted (as retention does): its end offset is 3 but no reader
// will ever deliver a message below it. The follower must still report that
// it has caught up, and then go on with what is written after.
func TestFollow_CaughtUpOnEmptiedPartition(t *testing.T) {
	e := startTestBroker(t)
	c := testClient(t, e)
	ctx := testContext(t, 30*time.Second)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "ref", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceTo(t, c, "ref", []string{"a", "b", "c"})
	deleteRecords(t, e.Addrs(), "ref", 0, 3)
	ends, err := c.EndOffsets(ctx, "ref", 0)
	if err != nil || ends[0] != 3 {
		t.Fatalf("end offset %d (%v), want 3", ends[0], err)
	}

	var seen atomic.Int64
	caught := make(chan int64, 1)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(fctx, "ref", 0, func() { caught <- seen.Load() }, func(*Message) error {
			seen.Add(1)
			return nil
		})
	}()
	select {
	case n := <-caught:
		if n != 0 {
			t.Errorf("caught up after %d messages, want 0", n)
		}
	case err := <-done:
		t.Fatalf("follow returned before catching up: %v", err)
	case <-ctx.Done():
		t.Fatal("the follower never caught up")
	}
	produceTo(t, c, "ref", []string{"d"})
	for seen.Load() < 1 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow: %v", err)
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("followed %d messages, want 1", n)
	}

	// Replay of the emptied range returns too.
	if err := c.Replay(ctx, "ref", 0, 3, func(m *Message) error {
		t.Errorf("replay delivered offset %d of an emptied range", m.Offset)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// deleteRecords deletes the records of topic/partition below offset, with
// franz-go (kafka-go has no DeleteRecords request).
func deleteRecords(t *testing.T, brokers []string, topic string, partition int32, offset int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	res, err := req.RequestWith(testContext(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range res.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("delete records of %s/%d: %v", rt.Topic, rp.Partition, err)
			}
		}
	}
}

// TestFollow_WaitsOutABrokerRestart: a follower whose broker goes away for
// longer than kafka-go's reader retries on its own (it then reports the
// failed connection) waits for it, and reads on from where it was once the
// broker is back on the same port and data. Returning the error instead
// stopped `healthcode run` (its policy hub) in the chaos smoke.
func TestFollow_WaitsOutABrokerRestart(t *testing.T) {
	dir := t.TempDir()
	e, err := broker.Start(broker.Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := e.Addrs()[0]
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	c := testClient(t, e)
	ctx := testContext(t, 60*time.Second)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "ref", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produceTo(t, c, "ref", []string{"a"})

	var seen atomic.Int64
	caught := make(chan struct{})
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(fctx, "ref", 0, func() { close(caught) }, func(m *Message) error {
			if got, want := string(m.Value), []string{"a", "b"}[min(seen.Load(), 1)]; got != want {
				t.Errorf("message %d is %q, want %q", seen.Load(), got, want)
			}
			seen.Add(1)
			return nil
		})
	}()
	select {
	case <-caught:
	case err := <-done:
		t.Fatalf("follow returned before catching up: %v", err)
	}

	e.Close()
	select { // long enough for the reader's own retries to give up
	case err := <-done:
		t.Fatalf("follow returned while the broker was down: %v", err)
	case <-time.After(4 * time.Second):
	}
	e, err = broker.Start(broker.Options{DataDir: dir, Port: port, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("restart on port %d: %v", port, err)
	}
	t.Cleanup(e.Close)
	produceTo(t, c, "ref", []string{"b"})
	for seen.Load() < 2 && ctx.Err() == nil {
		select {
		case err := <-done:
			t.Fatalf("follow returned after the restart: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow: %v", err)
	}
	if n := seen.Load(); n != 2 {
		t.Errorf("followed %d messages, want 2", n)
	}
}
