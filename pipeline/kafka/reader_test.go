package kafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"
)

func TestFetchBatch_MaxAndLinger(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	ctx := testContext(t, 20*time.Second)
	if err := o.EnsureTopics(ctx, TopicSpec{Name: "b", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 25)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceTo(t, o, "b", values)
	r := mustNew(t, func() Config { c := testConfig(t, e); c.FetchMaxWait = 50 * time.Millisecond; return c }()).NewPartitionReader("b", 0)
	defer r.Close()

	const linger = 300 * time.Millisecond
	var buf []Message
	next := int64(0)
	for _, want := range []int{10, 10, 5} {
		start := time.Now()
		got, err := FetchBatch(ctx, r, 10, linger, buf[:0])
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Fatalf("batch of %d, want %d", len(got), want)
		}
		for _, m := range got {
			if m.Offset != next {
				t.Fatalf("offset %d, want %d", m.Offset, next)
			}
			next++
		}
		// A full batch returns at once; a partial one after the linger.
		if want == 10 && took > linger/2 || want < 10 && took < linger {
			t.Errorf("batch of %d took %v (linger %v)", want, took, linger)
		}
		buf = got
	}

	// Nothing left: the first message never comes.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	got, err := FetchBatch(short, r, 10, linger, buf[:0])
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Errorf("empty topic: %d messages, err %v; want none and deadline exceeded", len(got), err)
	}

	// Without linger, one message at a time; max below 1 counts as 1.
	produceTo(t, o, "b", []string{"x", "y"})
	for _, lg := range []time.Duration{0, linger} {
		got, err := FetchBatch(ctx, r, map[time.Duration]int{0: 10, linger: 0}[lg], lg, nil)
		if err != nil || len(got) != 1 {
			t.Errorf("linger %v: %d messages, %v; want 1", lg, len(got), err)
		}
	}
}

// TestFetchBatch_NoLossWhenLingerFires fetches while a producer writes, with
// lingers and deadlines firing in the middle of fetches, and checks that every
// offset arrives exactly once and in order.
func TestFetchBatch_NoLossWhenLingerFires(t *testing.T) {
	e := startTestBroker(t)
	cfg := testConfig(t, e)
	cfg.BatchTimeout = time.Millisecond
	o := mustNew(t, cfg)
	ctx := testContext(t, 60*time.Second)
	if err := o.EnsureTopics(ctx, TopicSpec{Name: "stream", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	produced := make(chan error, 1)
	go func() { // small writes, so that the consumer often waits mid-batch
		w := o.NewWriter("stream", nil)
		defer w.Close()
		rng := rand.New(rand.NewPCG(7, 8))
		for i := 0; i < n; {
			msgs := make([]Message, min(1+rng.IntN(60), n-i))
			for j := range msgs {
				msgs[j].Value = []byte(strconv.Itoa(i + j))
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				produced <- err
				return
			}
			i += len(msgs)
		}
		produced <- nil
	}()

	cfg.FetchMaxWait, cfg.PartitionQueueCapacity = 20*time.Millisecond, 1000
	r := mustNew(t, cfg).NewPartitionReader("stream", 0)
	defer r.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	var buf []Message
	next, batches, short, deadlines := int64(0), 0, 0, 0
	for next < n {
		fctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Microsecond)
		max := 1 + rng.IntN(200)
		msgs, err := FetchBatch(fctx, r, max, time.Duration(rng.IntN(2000))*time.Microsecond, buf[:0])
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				t.Fatalf("after offset %d: %v", next, err)
			}
			deadlines++
			continue
		}
		for _, m := range msgs {
			if m.Offset != next || string(m.Value) != strconv.FormatInt(next, 10) {
				t.Fatalf("got offset %d (%q), want %d", m.Offset, m.Value, next)
			}
			next++
		}
		batches++
		if len(msgs) < max {
			short++ // the linger or the deadline fired while fetching
		}
		buf = msgs
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages in %d batches, %d cut short, %d fetches cancelled before a first message", n, batches, short, deadlines)
	if short < 20 {
		t.Errorf("only %d of %d batches cut short: the test did not exercise cancellation mid-fetch", short, batches)
	}
}

func TestNewGroupReader_CommitsResume(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	ctx := testContext(t, 30*time.Second)
	if err := o.EnsureTopics(ctx, TopicSpec{Name: "in", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	values := make([]string, n)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceTo(t, o, "in", values, 0, 1, 2, 3)

	seen := map[string]int{}
	consume := func(limit int) int {
		r := o.NewGroupReader(ctx, "stateless", "in")
		got := 0
		for got < limit {
			fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			msgs, err := FetchBatch(fctx, r, limit-got, 20*time.Millisecond, nil)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				break // drained
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				seen[string(m.Value)]++
			}
			got += len(msgs)
			// Effects done: commit the batch (sent asynchronously).
			if err := r.CommitMessages(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Close(); err != nil { // flushes pending commits
			t.Fatal(err)
		}
		return got
	}
	first := consume(120)
	second := consume(n)
	if first != 120 || first+second != n {
		t.Errorf("consumed %d then %d messages, want 120 then %d", first, second, n-120)
	}
	var dup []string
	for v, c := range seen {
		if c != 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", v, c))
		}
	}
	sort.Strings(dup)
	if len(seen) != n || len(dup) > 0 {
		t.Errorf("%d distinct values of %d; read more than once: %v", len(seen), n, dup)
	}
}
