package main

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"healthcode/pipeline/kafka"
)

// TestBroker_SurvivesKill9 measures what `healthcode broker --data-dir` keeps
// across a SIGKILL of its process (docs/operations.md, "The embedded
// broker"): every acknowledged message, topics with their partition counts and
// configs, and committed group offsets, with and without --sync-writes.
func TestBroker_SurvivesKill9(t *testing.T) {
	bin := buildBinary(t)
	for _, mode := range []struct {
		name  string
		extra []string
	}{{"page-cache", nil}, {"sync-writes", []string{"--sync-writes"}}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			b, addr := startBroker(t, bin, dir, mode.extra...)
			const n, committed = 3000, 1800
			kc := brokerClient(t, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: "t", Partitions: 2}, kafka.TopicSpec{Name: "c", Partitions: 1, Compacted: true}); err != nil {
				t.Fatal(err)
			}
			w := kc.NewWriter("t", kafka.PartitionBalancer{})
			for i := 0; i < n; i += 500 { // several produce requests, each acknowledged
				var msgs []kafka.Message
				for j := i; j < i+500; j++ {
					msgs = append(msgs, kafka.Message{Partition: 0, Key: []byte(strconv.Itoa(j)), Value: []byte(fmt.Sprintf("v%d", j))})
				}
				if err := kafka.Write(ctx, w, msgs...); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			commit(t, ctx, kc, "g", "t", committed)

			if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			b.kill()
			_, addr = startBroker(t, bin, dir, mode.extra...)
			kc = brokerClient(t, addr)

			if got, err := kc.PartitionCount(ctx, "t"); err != nil || got != 2 {
				t.Errorf("topic t after kill -9: %d partitions, %v; want 2", got, err)
			}
			if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: "c", Partitions: 1, Compacted: true}); err != nil {
				t.Errorf("compacted topic c after kill -9: %v", err)
			}
			ends, err := kc.EndOffsets(ctx, "t", 0)
			if err != nil || ends[0] != n {
				t.Fatalf("end offset of t/0 after kill -9: %d, %v; want %d", ends[0], err, n)
			}
			next := 0
			err = kc.Replay(ctx, "t", 0, n, func(m *kafka.Message) error {
				if want := fmt.Sprintf("v%d", next); string(m.Value) != want || m.Offset != int64(next) {
					return fmt.Errorf("offset %d holds %q, want %q at %d", m.Offset, m.Value, want, next)
				}
				next++
				return nil
			})
			if err != nil || next != n {
				t.Fatalf("read back %d of %d messages: %v", next, n, err)
			}
			lag, err := kc.Lag(ctx, "g", "t")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, l := range lag {
				if l.Partition == 0 {
					found = true
					if l.Lag != n-committed {
						t.Errorf("group g on t/0 after kill -9: lag %d, want %d (offset %d committed)", l.Lag, n-committed, committed)
					}
				}
			}
			if !found {
				t.Errorf("group g has no lag for t/0 after kill -9: %v", lag)
			}
		})
	}
}

func brokerClient(t *testing.T, addr string) *kafka.Client {
	t.Helper()
	kc, err := kafka.New(kafka.Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// commit commits offset next of partition 0 of topic for group, as a stage
// does (RunPartitioned, a synchronous commit), and leaves the group.
func commit(t *testing.T, ctx context.Context, kc *kafka.Client, group, topic string, next int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	committed := make(chan error, 1)
	go func() {
		done <- kc.RunPartitioned(ctx, group, topic, func(ctx context.Context, c kafka.Claim) error {
			if c.Partition == 0 {
				committed <- c.Commit(next)
			}
			<-ctx.Done()
			return nil
		})
	}()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
