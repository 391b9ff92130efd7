package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// fetchN fetches n messages from r, failing the test if they do not come.
func fetchN(t *testing.T, ctx context.Context, r *GroupReader, n int) []Message {
	t.Helper()
	var out []Message
	for len(out) < n {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// committed returns the group's committed offset of every partition of topic.
func committed(t *testing.T, ctx context.Context, c *Client, group, topic string) map[int]int64 {
	t.Helper()
	lag, err := c.Lag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, l := range lag {
		out[l.Partition] = l.Committed
	}
	return out
}

// TestGroupReader_DropsCommitsOfAnEndedGeneration: a member that fetched
// every partition, then lost one to a new member in a rebalance, commits
// what it fetched before. Nothing of that reaches the broker: the moved
// partition keeps its new owner's offset (kafka-go's group reader sent the
// stale one, moving the offset back), and its own partition is read again
// from its last commit.
func TestGroupReader_DropsCommitsOfAnEndedGeneration(t *testing.T) {
	e := startTestBroker(t)
	c := testClient(t, e)
	ctx := testContext(t, 2*time.Minute)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "moved", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 20)
	for i := range values {
		values[i] = fmt.Sprint("v", i)
	}
	produceTo(t, c, "moved", values, 0, 1) // 10 messages on each partition

	a := c.NewGroupReader(ctx, "fenced", "moved")
	defer a.Close()
	before := fetchN(t, ctx, a, 20) // a owns both partitions: not committed yet

	b := c.NewGroupReader(ctx, "fenced", "moved")
	defer b.Close()
	got := fetchN(t, ctx, b, 10) // b's partition, from its start: nothing was committed
	p := got[0].Partition
	for _, m := range got {
		if m.Partition != p {
			t.Fatalf("b read partitions %d and %d: want one", p, m.Partition)
		}
	}
	if err := b.CommitMessages(ctx, got...); err != nil {
		t.Fatal(err)
	}
	produceTo(t, c, "moved", []string{"w0", "w1", "w2", "w3", "w4"}, p)
	more := fetchN(t, ctx, b, 5)
	if err := b.CommitMessages(ctx, more...); err != nil {
		t.Fatal(err)
	}
	for committed(t, ctx, c, "fenced", "moved")[p] != 15 { // sent within a commit interval
		select {
		case <-ctx.Done():
			t.Fatalf("b's commit of offset 15 on partition %d never arrived: %v", p, committed(t, ctx, c, "fenced", "moved"))
		case <-time.After(50 * time.Millisecond):
		}
	}

	// a commits everything it fetched before b joined, then closes, which
	// sends whatever it has marked.
	if err := a.CommitMessages(ctx, before...); err != nil {
		t.Fatal(err)
	}
	q := 1 - p
	// a's partition is delivered again from its start, in a's new generation.
	again := fetchN(t, ctx, a, 1)
	if again[0].Partition != q || again[0].Offset != 0 {
		t.Errorf("a's first message after the rebalance: partition %d offset %d, want partition %d offset 0", again[0].Partition, again[0].Offset, q)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	off := committed(t, ctx, c, "fenced", "moved")
	if off[p] != 15 {
		t.Errorf("moved partition %d: committed %d, want b's 15 (a's stale 10 must not be sent)", p, off[p])
	}
	if off[q] != -1 {
		t.Errorf("a's partition %d: committed %d, want none (what a fetched before the rebalance is read again)", q, off[q])
	}
}
