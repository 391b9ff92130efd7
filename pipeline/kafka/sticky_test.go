package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestAssignSticky(t *testing.T) {
	parts := []int{0, 1, 2, 3, 4, 5, 6, 7}
	f := func(members []string, owned map[string][]int, want map[string][]int) {
		t.Helper()
		got := assignSticky(members, parts, owned)
		for _, id := range members {
			if !slices.Equal(got[id], want[id]) {
				t.Errorf("members %v owning %v: got %v, want %v", members, owned, got, want)
				return
			}
		}
	}
	// A fresh group: an even split in order.
	f([]string{"a", "b"}, nil, map[string][]int{"a": {0, 1, 2, 3}, "b": {4, 5, 6, 7}})
	// A second member joins: the first keeps half of what it had, the
	// newcomer gets the rest.
	f([]string{"a", "b"}, map[string][]int{"a": parts}, map[string][]int{"a": {0, 1, 2, 3}, "b": {4, 5, 6, 7}})
	f([]string{"a", "b"}, map[string][]int{"b": parts}, map[string][]int{"a": {4, 5, 6, 7}, "b": {0, 1, 2, 3}})
	// A third joins two: each of the two keeps most of its own.
	f([]string{"a", "b", "c"}, map[string][]int{"a": {0, 1, 2, 3}, "b": {4, 5, 6, 7}},
		map[string][]int{"a": {0, 1, 2}, "b": {4, 5, 6}, "c": {3, 7}})
	// One of three dies: the survivors keep theirs and split its partitions.
	f([]string{"a", "c"}, map[string][]int{"a": {0, 1, 2}, "b": {4, 5, 6}, "c": {3, 7}},
		map[string][]int{"a": {0, 1, 2, 4}, "c": {3, 5, 6, 7}})
	// Two members claim one partition (a stale claim): the first keeps it.
	f([]string{"a", "b"}, map[string][]int{"a": {0, 1}, "b": {1, 2}},
		map[string][]int{"a": {0, 1, 3, 4}, "b": {2, 5, 6, 7}})
	// Partitions that no longer exist are ignored.
	f([]string{"a"}, map[string][]int{"a": {9, 10}}, map[string][]int{"a": parts})
}

func TestStickyBalancer_AssignGroupsIsDeterministic(t *testing.T) {
	ud := func(owned ...int) []byte {
		b, _ := json.Marshal(stickyUserData{Owned: map[string][]int{"pe": owned}})
		return b
	}
	members := []kafkago.GroupMember{
		{ID: "m2", Topics: []string{"pe"}, UserData: ud(3, 4, 5)},
		{ID: "m1", Topics: []string{"pe"}, UserData: ud(0, 1, 2)},
		{ID: "m3", Topics: []string{"pe"}},
	}
	var partitions []kafkago.Partition
	for _, p := range []int{5, 3, 1, 0, 4, 2} {
		partitions = append(partitions, kafkago.Partition{Topic: "pe", ID: p})
	}
	b := &stickyBalancer{}
	want := b.AssignGroups(members, partitions)
	if !slices.Equal(want["m1"]["pe"], []int{0, 1}) || !slices.Equal(want["m2"]["pe"], []int{3, 4}) || !slices.Equal(want["m3"]["pe"], []int{2, 5}) {
		t.Errorf("assignment %v", want)
	}
	slices.Reverse(members)
	slices.Reverse(partitions)
	if got := b.AssignGroups(members, partitions); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("input order changed the assignment: %v, then %v", want, got)
	}
}

// TestRunPartitioned_StickyRebalance checks, on the broker, that a member
// joining takes partitions only from the one that had them all, and that the
// first member's handlers are told which partitions they keep.
func TestRunPartitioned_StickyRebalance(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	if err := o.EnsureTopics(testContext(t, 10*time.Second), TopicSpec{Name: "pe", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // protects gens
	gens := map[string][][]int{}
	h := func(member string) func(context.Context, Claim) error {
		return func(ctx context.Context, c Claim) error {
			mu.Lock()
			if g := gens[member]; len(g) == 0 || !slices.Equal(g[len(g)-1], c.Assigned) {
				gens[member] = append(g, c.Assigned)
			}
			mu.Unlock()
			<-ctx.Done()
			return nil
		}
	}
	last := func(member string) []int {
		mu.Lock()
		defer mu.Unlock()
		g := gens[member]
		if len(g) == 0 {
			return nil
		}
		return g[len(g)-1]
	}
	stopA := runMember(o, "sticky", "pe", h("A"))
	waitFor(t, 10*time.Second, "A to own all partitions", func() bool { return len(last("A")) == 4 })
	stopB := runMember(o, "sticky", "pe", h("B"))
	waitFor(t, 15*time.Second, "B to own two partitions", func() bool { return len(last("B")) == 2 && len(last("A")) == 2 })
	a, b := last("A"), last("B")
	all := append(slices.Clone(a), b...)
	slices.Sort(all)
	if !slices.Equal(all, []int{0, 1, 2, 3}) {
		t.Errorf("A %v and B %v do not split the partitions", a, b)
	}
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "A to own all partitions again", func() bool { return len(last("A")) == 4 })
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("generations seen: %v", maps.Clone(gens))
}

// TestRunPartitioned_LeavesGroupOnStop checks that a member stopped cleanly
// leaves the group at once: the broker lists only the other member right
// after RunPartitioned returns, without waiting for a session to expire.
func TestRunPartitioned_LeavesGroupOnStop(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	ctx := testContext(t, 30*time.Second)
	if err := o.EnsureTopics(ctx, TopicSpec{Name: "pe", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	own := &owners{by: map[int]string{}}
	owned := func(member string) (n int) {
		own.mu.Lock()
		defer own.mu.Unlock()
		for _, m := range own.by {
			if m == member {
				n++
			}
		}
		return n
	}
	stopA := runMember(o, "leave", "pe", own.handler("A"))
	waitFor(t, 10*time.Second, "A to own both partitions", func() bool { return owned("A") == 2 })
	stopB := runMember(o, "leave", "pe", own.handler("B"))
	waitFor(t, 15*time.Second, "A and B to own one partition each", func() bool { return owned("A") == 1 && owned("B") == 1 })
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	cl := &kafkago.Client{Addr: kafkago.TCP(e.Addrs()...), Timeout: 5 * time.Second}
	resp, err := cl.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{"leave"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 || len(resp.Groups[0].Members) != 1 {
		t.Fatalf("after B stopped the group lists %+v, want A alone", resp.Groups)
	}
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
}
