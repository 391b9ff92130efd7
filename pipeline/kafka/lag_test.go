package kafka

import (
	"strconv"
	"testing"
	"time"
)

func TestLag_PerPartition(t *testing.T) {
	e := startTestBroker(t)
	c := testClient(t, e)
	ctx := testContext(t, 30*time.Second)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "in", Partitions: 2}, TopicSpec{Name: "more", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	values := make([]string, 10)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceTo(t, c, "in", values, 0, 0, 0, 1) // 8 on partition 0, 2 on 1
	produceTo(t, c, "more", values[:4])

	lag, err := c.Lag(ctx, "g", "in", "more")
	if err != nil {
		t.Fatal(err)
	}
	want := []PartitionLag{
		{Group: "g", Topic: "in", Partition: 0, Committed: -1, End: 8, Lag: 8},
		{Group: "g", Topic: "in", Partition: 1, Committed: -1, End: 2, Lag: 2},
		{Group: "g", Topic: "more", Partition: 0, Committed: -1, End: 4, Lag: 4},
	}
	if len(lag) != len(want) {
		t.Fatalf("lag %+v, want %+v", lag, want)
	}
	for i := range want {
		if lag[i] != want[i] {
			t.Errorf("lag[%d] = %+v, want %+v", i, lag[i], want[i])
		}
	}

	// Commit 5 of partition 0 through a group reader.
	r := c.NewGroupReader(ctx, "g", "in")
	committed := 0
	for committed < 5 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Partition == 0 && m.Offset == 4 {
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
			committed = 5
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lag, err = c.Lag(ctx, "g", "in")
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 2 || lag[0].Committed != 5 || lag[0].Lag != 3 {
		t.Errorf("after committing 5 of partition 0: %+v, want committed 5 and lag 3 there", lag)
	}
	if _, err := c.Lag(ctx, "g", "missing"); !IsUnknownTopic(err) {
		t.Errorf("lag of a missing topic: %v, want unknown topic", err)
	}
}
