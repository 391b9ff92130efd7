package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// owners records which member handles which partition, and any moment two
// handlers held one partition at once.
type owners struct {
	mu         sync.Mutex // protects the fields below
	by         map[int]string
	violations []string
}

func (o *owners) handler(member string) func(context.Context, Claim) error {
	return func(ctx context.Context, c Claim) error {
		o.mu.Lock()
		if prev, ok := o.by[c.Partition]; ok {
			o.violations = append(o.violations, fmt.Sprintf("%s got partition %d still held by %s", member, c.Partition, prev))
		}
		o.by[c.Partition] = member
		o.mu.Unlock()
		<-ctx.Done()
		o.mu.Lock()
		if o.by[c.Partition] == member {
			delete(o.by, c.Partition)
		}
		o.mu.Unlock()
		return nil
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runMember runs RunPartitioned in the background; stop cancels it and
// returns its error once it has returned.
func runMember(o *Client, group, topic string, h func(context.Context, Claim) error) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.RunPartitioned(ctx, group, topic, h) }()
	return func() error {
		cancel()
		return <-done
	}
}

func TestRunPartitioned_ShareAndRebalance(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	if err := o.EnsureTopics(testContext(t, 10*time.Second), TopicSpec{Name: "pe", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	own := &owners{by: map[int]string{}}
	snapshot := func() map[int]string {
		own.mu.Lock()
		defer own.mu.Unlock()
		return maps.Clone(own.by)
	}
	count := func(m map[int]string, member string) (n int) {
		for _, v := range m {
			if v == member {
				n++
			}
		}
		return n
	}

	stopA := runMember(o, "score", "pe", own.handler("A"))
	waitFor(t, 10*time.Second, "A to own all 4 partitions", func() bool { return count(snapshot(), "A") == 4 })

	start := time.Now()
	stopB := runMember(o, "score", "pe", own.handler("B"))
	waitFor(t, 15*time.Second, "A and B to share the partitions", func() bool {
		s := snapshot()
		return len(s) == 4 && count(s, "A") > 0 && count(s, "B") > 0
	})
	t.Logf("rebalance to two members took %v: %v", time.Since(start), snapshot())
	time.Sleep(300 * time.Millisecond) // several heartbeats: the assignment is stable
	if s := snapshot(); len(s) != 4 || count(s, "A") != 2 || count(s, "B") != 2 {
		t.Errorf("after the rebalance: %v, want two partitions each", s)
	}

	// B leaves: A takes everything back.
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "A to own all 4 partitions again", func() bool { return count(snapshot(), "A") == 4 })
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if s := snapshot(); len(s) != 0 {
		t.Errorf("handlers still running after RunPartitioned returned: %v", s)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	if len(own.violations) > 0 {
		t.Errorf("a partition had two owners at once: %v", own.violations)
	}
}

func TestRunPartitioned_ResumesCommittedOffsets(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	if err := o.EnsureTopics(testContext(t, 10*time.Second), TopicSpec{Name: "pe", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 40)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceTo(t, o, "pe", values, 0, 1, 2, 3) // ten per partition

	type start struct{ claimed, first int64 }
	var mu sync.Mutex // protects starts and committed
	starts := map[int]start{}
	committed := map[int]bool{}
	// Each run reads up to offset upTo, commits it, and idles.
	handler := func(upTo int64) func(context.Context, Claim) error {
		return func(ctx context.Context, c Claim) error {
			m, err := c.Reader.FetchMessage(ctx)
			if err != nil {
				return nil // revoked before anything arrived
			}
			mu.Lock()
			starts[c.Partition] = start{c.Offset, m.Offset}
			mu.Unlock()
			for m.Offset+1 < upTo {
				if m, err = c.Reader.FetchMessage(ctx); err != nil {
					return nil
				}
			}
			if err := c.Commit(upTo); err != nil {
				return err
			}
			mu.Lock()
			committed[c.Partition] = true
			mu.Unlock()
			<-ctx.Done()
			return nil
		}
	}
	allCommitted := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(committed) == 4
	}

	stop := runMember(o, "resume", "pe", handler(6))
	waitFor(t, 10*time.Second, "first run to commit offset 6 everywhere", allCommitted)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for p, s := range starts {
		if s.claimed != FirstOffset || s.first != 0 {
			t.Errorf("first run, partition %d: claim offset %d, first message %d; want FirstOffset and 0", p, s.claimed, s.first)
		}
	}

	clear(starts)
	clear(committed)
	stop = runMember(o, "resume", "pe", handler(10))
	waitFor(t, 10*time.Second, "second run to commit offset 10 everywhere", allCommitted)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for p := 0; p < 4; p++ {
		if s := starts[p]; s.claimed != 6 || s.first != 6 {
			t.Errorf("second run, partition %d: claim offset %d, first message %d; want 6 and 6", p, s.claimed, s.first)
		}
	}
}

func TestRunPartitioned_RetriesFailedHandler(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	if err := o.EnsureTopics(testContext(t, 10*time.Second), TopicSpec{Name: "pe", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	produceTo(t, o, "pe", []string{"a", "b", "c", "d", "e"}, 0)

	var mu sync.Mutex               // protects the fields below
	var attempts []int64            // partition 0: Claim.Offset of each attempt
	var firsts []int64              // partition 0: first offset read by each attempt
	var stale Claim                 // the first attempt's claim, used after it returned
	idleDone := make(chan struct{}) // closed when partition 1's handler is cancelled
	h := func(ctx context.Context, c Claim) error {
		if c.Partition == 1 {
			if c.Offset != FirstOffset { // not the first generation
				return nil
			}
			<-ctx.Done()
			close(idleDone)
			return nil
		}
		m, err := c.Reader.FetchMessage(ctx)
		if err != nil {
			return nil
		}
		mu.Lock()
		attempts = append(attempts, c.Offset)
		firsts = append(firsts, m.Offset)
		n := len(attempts)
		if n == 1 {
			stale = c
		}
		mu.Unlock()
		switch n {
		case 1: // progress, then a failure
			if err := c.Commit(3); err != nil {
				return err
			}
			return errors.New("injected failure after committing 3")
		case 2: // a failure without progress
			return errors.New("injected failure")
		}
		return nil // done early: the partition stays owned
	}
	stop := runMember(o, "retry", "pe", h)
	waitFor(t, 10*time.Second, "three attempts on partition 0", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) == 3
	})
	// Partition 0's handler returning must not end the generation (and so
	// cancel partition 1's handler).
	select {
	case <-idleDone:
		t.Error("partition 1's handler was cancelled when partition 0's returned")
	case <-time.After(300 * time.Millisecond):
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int64{FirstOffset, 3, 3}
	if !slices.Equal(attempts, want) || !slices.Equal(firsts, []int64{0, 3, 3}) {
		t.Errorf("attempts started at claim offsets %v reading first %v; want %v and [0 3 3]", attempts, firsts, want)
	}
	if err := stale.Commit(5); err == nil {
		t.Error("a claim committed after its handler returned")
	}
}

func TestRunPartitioned_InvalidOptions(t *testing.T) {
	_, err := New(Config{Brokers: []string{"b:9092"}, HeartbeatInterval: time.Minute})
	if err == nil {
		t.Fatal("no error with a heartbeat interval above the session timeout")
	}
}
