package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"healthcode/pipeline/kafka"
)

// session is the session timeout of every member in these tests: kfake's
// minimum, as Kafka's, and client()'s.
const session = 6 * time.Second

// TestReaper_EvictsMemberKilledDuringJoin reproduces kfake's stuck member and
// shows the reaper removing it. A real consumer (kafka-go, through
// pipeline/kafka) owns both partitions of a topic. A ghost joins with a raw
// JoinGroup v1 and closes its connection before the response, as a process
// SIGKILLed during its join does: the consumer rejoins as leader and assigns
// the ghost a partition. About half the time kfake's response to the closed
// connection is still buffered and starts the ghost's session, which then
// expires as it should; the test then sends another ghost, until one stays
// in the stable group, with its partition, for two session timeouts: the stuck
// case, with the reaper's loop stopped. Started then, the reaper must evict
// that ghost and nothing else, and the consumer must get every message of
// both partitions.
func TestReaper_EvictsMemberKilledDuringJoin(t *testing.T) {
	const (
		topic        = "stuck"
		group        = "g"
		partitions   = 2
		perPartition = 20
		attempts     = 20 // each ghost gets stuck with probability 1/2
	)
	b, err := Start(Options{Partitions: partitions, Logger: testLogger(t), noReaper: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testContext(t, 5*time.Minute)
	c := client(t, b)
	if err := c.EnsureTopics(ctx, kafka.TopicSpec{Name: topic, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()

	// The consumer, A, reads into got until the test ends.
	values := newValueReader(t, c.NewGroupReader(ctx, group, topic))
	defer values.close()
	produceTo(t, c, topic, []string{"warm-0", "warm-1"}, 0, 1)
	values.waitFor(t, 30*time.Second, "warm-0", "warm-1")
	first := waitGroup(t, adm, group, func(g groupView) bool { return g.state == stableState && len(g.members) == 1 })
	consumer := first.members[0].id

	var ghost string
	for attempt := 1; ghost == ""; attempt++ {
		if attempt > attempts {
			t.Fatalf("none of %d ghosts stayed in the group: kfake always timed them out", attempts)
		}
		waitGroup(t, adm, group, func(g groupView) bool { return g.state == stableState && len(g.members) == 1 })
		clientID := fmt.Sprintf("ghost-%d", attempt)
		joinAndDie(t, b.Addrs()[0], group, topic, clientID)
		g := waitGroup(t, adm, group, func(g groupView) bool { return g.state == stableState && g.member(clientID) != nil })
		id := g.member(clientID).id
		if len(g.member(clientID).partitions) == 0 {
			t.Fatalf("ghost %d has no partition: %+v", attempt, g)
		}
		if staysStable(t, adm, group, id, 2*session) {
			ghost = id
			t.Logf("ghost %d stayed in the stable group with its partition for %v: stuck", attempt, 2*session)
		} else {
			t.Logf("ghost %d left the group by itself: kfake had started its session", attempt)
		}
	}
	if n := b.Evictions(); n != 0 {
		t.Fatalf("%d evictions with the reaper's loop stopped", n)
	}

	var want []string
	var msgs []string
	var parts []int
	for p := range partitions {
		for i := range perPartition {
			v := fmt.Sprintf("m-%d-%d", p, i)
			want = append(want, v)
			msgs = append(msgs, v)
			parts = append(parts, p)
		}
	}
	w := c.NewWriter(topic, kafka.PartitionBalancer{})
	kms := make([]kafka.Message, len(msgs))
	for i, v := range msgs {
		kms[i] = kafka.Message{Value: []byte(v), Partition: parts[i]}
	}
	if err := w.WriteMessages(ctx, kms...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	if err := b.startReaper(); err != nil {
		t.Fatal(err)
	}
	values.waitFor(t, 60*time.Second, want...)
	if n := b.Evictions(); n != 1 {
		t.Errorf("reaper evicted %d members, want 1 (the ghost)", n)
	}
	last := waitGroup(t, adm, group, func(g groupView) bool { return g.state == stableState })
	if len(last.members) != 1 || last.members[0].id != consumer {
		t.Errorf("group after the eviction: %+v; want only the consumer %s (the ghost was %s)", last, consumer, ghost)
	}
}

// TestSessions_Sweep checks the reaper's rule on its own: in a Stable group a
// member silent past the group's session timeout is evicted, its silence
// counting from the later of its last request and the reaper's first sight
// of it in the Stable group; nothing in a group that is not Stable; records
// of members no longer described are forgotten.
func TestSessions_Sweep(t *testing.T) {
	s := newSessions(testLogger(t))
	t0 := time.Unix(1_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	join := func(member string, when time.Time) {
		r := kmsg.NewPtrJoinGroupRequest()
		r.Group, r.MemberID, r.SessionTimeoutMillis = "g", member, 6000
		s.observe(r, when)
	}
	heartbeat := func(member string, when time.Time) {
		r := kmsg.NewPtrHeartbeatRequest()
		r.Group, r.MemberID = "g", member
		s.observe(r, when)
	}
	stable := func(members ...string) []describedGroup {
		return []describedGroup{{name: "g", state: stableState, members: members}}
	}
	evicted := func(ev []describedGroup) []string {
		var out []string
		for _, g := range ev {
			out = append(out, g.members...)
		}
		slices.Sort(out)
		return out
	}

	// "a" joined at 0 and waited out a 10 s rebalance; "b" joined with no
	// member ID (never seen). Both are first seen Stable at 10 s.
	join("a", at(0))
	join("", at(1*time.Second))
	since := map[memberKey]time.Time{}
	ev, since := s.sweep(at(10*time.Second), at(10*time.Second), []describedGroup{{name: "g", state: "PreparingRebalance", members: []string{"a", "b"}}}, since)
	if len(ev) != 0 || len(since) != 0 {
		t.Fatalf("not Stable: evicted %v, stable %v", ev, since)
	}
	ev, since = s.sweep(at(10*time.Second), at(10*time.Second), stable("a", "b"), since)
	if len(ev) != 0 {
		t.Fatalf("first sight: evicted %v", evicted(ev))
	}
	heartbeat("a", at(15*time.Second))
	ev, since = s.sweep(at(16500*time.Millisecond), at(16500*time.Millisecond), stable("a", "b"), since)
	if got := evicted(ev); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("at 16.5 s evicted %v, want [b]", got)
	}
	ev, _ = s.sweep(at(21500*time.Millisecond), at(21500*time.Millisecond), stable("a"), since)
	if got := evicted(ev); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("at 21.5 s evicted %v, want [a]", got)
	}

	// A member no longer described is forgotten, unless recorded after the
	// describe was asked for; a group no longer listed loses its timeout.
	heartbeat("gone", at(20*time.Second))
	heartbeat("new", at(30*time.Second))
	s.sweep(at(31*time.Second), at(29*time.Second), nil, nil)
	if _, ok := s.seen[memberKey{"g", "gone"}]; ok {
		t.Error("a member no longer described is still recorded")
	}
	if _, ok := s.seen[memberKey{"g", "new"}]; !ok {
		t.Error("a member recorded after the describe was forgotten")
	}
	if _, ok := s.timeouts["g"]; ok {
		t.Error("a group no longer listed keeps its timeout")
	}
}

// joinAndDie sends a first JoinGroup v1 (no member ID: kafka-go's version,
// so no MEMBER_ID_REQUIRED round) for topic with the range protocol, which
// kafka-go's group readers offer too, and closes the connection before the
// broker can answer.
func joinAndDie(t *testing.T, addr, group, topic, clientID string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	meta := kmsg.ConsumerMemberMetadata{Version: 0, Topics: []string{topic}, UserData: []byte{}}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 1
	req.Group = group
	req.SessionTimeoutMillis = int32(session / time.Millisecond)
	req.RebalanceTimeoutMillis = 5000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
}

type groupView struct {
	state   string
	members []memberView
}

type memberView struct {
	id, clientID string
	partitions   []int32 // assigned, of every topic
}

func (g groupView) member(clientID string) *memberView {
	for i := range g.members {
		if g.members[i].clientID == clientID {
			return &g.members[i]
		}
	}
	return nil
}

func describeGroup(t *testing.T, cl *kgo.Client, group string) groupView {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(testContext(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		t.Fatalf("describe %s: %+v", group, resp.Groups)
	}
	g := groupView{state: resp.Groups[0].State}
	for _, m := range resp.Groups[0].Members {
		v := memberView{id: m.MemberID, clientID: m.ClientID}
		var a kmsg.ConsumerMemberAssignment
		if len(m.MemberAssignment) > 0 {
			if err := a.ReadFrom(m.MemberAssignment); err != nil {
				t.Fatalf("member assignment: %v", err)
			}
		}
		for _, tp := range a.Topics {
			v.partitions = append(v.partitions, tp.Partitions...)
		}
		g.members = append(g.members, v)
	}
	return g
}

// waitGroup describes group until ok holds (a minute at most).
func waitGroup(t *testing.T, cl *kgo.Client, group string, ok func(groupView) bool) groupView {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		g := describeGroup(t, cl, group)
		if ok(g) {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s never reached the state awaited: %+v", group, g)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// staysStable reports whether member stays in group, and group Stable, for d.
func staysStable(t *testing.T, cl *kgo.Client, group, member string, d time.Duration) bool {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		g := describeGroup(t, cl, group)
		if g.state != stableState || !slices.ContainsFunc(g.members, func(m memberView) bool { return m.id == member }) {
			return false
		}
	}
	return true
}

// valueReader reads a group reader's message values on a goroutine of its
// own, until close.
type valueReader struct {
	r      *kafka.GroupReader
	got    chan string
	seen   map[string]bool
	cancel context.CancelFunc
	done   chan struct{}
}

func newValueReader(t *testing.T, r *kafka.GroupReader) *valueReader {
	ctx, cancel := context.WithCancel(t.Context())
	v := &valueReader{r: r, got: make(chan string, 64), seen: map[string]bool{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return
			}
			select {
			case v.got <- string(m.Value):
			case <-ctx.Done():
				return
			}
		}
	}()
	return v
}

// waitFor waits until every one of want has been read (duplicates allowed).
func (v *valueReader) waitFor(t *testing.T, d time.Duration, want ...string) {
	t.Helper()
	timeout := time.After(d)
	for {
		missing := 0
		for _, w := range want {
			if !v.seen[w] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		select {
		case s := <-v.got:
			v.seen[s] = true
		case <-timeout:
			t.Fatalf("%d of %d messages never read in %v", missing, len(want), d)
		}
	}
}

func (v *valueReader) close() {
	v.cancel()
	v.r.Close()
	<-v.done
}
