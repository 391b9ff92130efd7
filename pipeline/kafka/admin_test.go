package kafka

import (
	"errors"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestEnsureTopics(t *testing.T) {
	e := startTestBroker(t)
	ctx := testContext(t, 20*time.Second)
	c := testClient(t, e)
	specs := []TopicSpec{
		{Name: "events", Partitions: 4},
		{Name: "areas", Partitions: 1, Compacted: true},
	}
	for round := 0; round < 2; round++ { // the second round finds them all
		if err := c.EnsureTopics(ctx, specs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, s := range specs {
			if n, err := c.PartitionCount(ctx, s.Name); err != nil || n != s.Partitions {
				t.Errorf("round %d: %s has %d partitions (%v), want %d", round, s.Name, n, err, s.Partitions)
			}
		}
	}
	// An existing topic keeps its partition count.
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "events", Partitions: 9}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.PartitionCount(ctx, "events"); n != 4 {
		t.Errorf("events now has %d partitions, want 4 as created", n)
	}

	var res *kafkago.DescribeConfigsResponse
	err := c.withClient(ctx, func(kc *kafkago.Client) error {
		var err error
		res, err = kc.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{Resources: []kafkago.DescribeConfigRequestResource{
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: "areas", ConfigNames: []string{"cleanup.policy"}},
			{ResourceType: kafkago.ResourceTypeTopic, ResourceName: "events", ConfigNames: []string{"cleanup.policy"}},
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := map[string]string{}
	for _, r := range res.Resources {
		for _, c := range r.ConfigEntries {
			policy[r.ResourceName] = c.ConfigValue
		}
	}
	if policy["areas"] != "compact" || policy["events"] == "compact" {
		t.Errorf("cleanup.policy: %v, want areas compacted and events not", policy)
	}

	for _, bad := range []TopicSpec{{Name: "", Partitions: 1}, {Name: "x", Partitions: 0}} {
		if err := c.EnsureTopics(ctx, bad); err == nil {
			t.Errorf("spec %+v accepted", bad)
		}
	}
}

func TestPartitionCount_MissingTopicIsNotCreated(t *testing.T) {
	e := startTestBroker(t) // auto-creation is on, so a careless lookup would create it
	ctx := testContext(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		_, err := testClient(t, e).PartitionCount(ctx, "missing")
		if !errors.Is(err, kafkago.UnknownTopicOrPartition) || !IsUnknownTopic(err) {
			t.Fatalf("lookup %d: err = %v, want unknown topic", i, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no error without brokers")
	}
}

func TestPartitionBalancer_RoutesToMessagePartition(t *testing.T) {
	e := startTestBroker(t)
	o := testClient(t, e)
	ctx := testContext(t, 20*time.Second)
	if err := o.EnsureTopics(ctx, TopicSpec{Name: "routed", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	// Partitions chosen against the round-robin order kafka-go would use,
	// with identical keys that a hash balancer would send to one partition.
	order := []int{3, 1, 2, 0, 0, 3}
	w := o.NewWriter("routed", PartitionBalancer{})
	var msgs []Message
	for i := 0; i < 24; i++ {
		p := order[i%len(order)]
		msgs = append(msgs, Message{Key: []byte("same"), Value: []byte(fmt.Sprintf("%d:%d", p, i)), Partition: p})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, p := range order {
		counts[p] += 24 / len(order)
	}
	for p := 0; p < 4; p++ {
		for _, m := range readPartition(t, o, "routed", p, counts[p]) {
			var gotP, i int
			if _, err := fmt.Sscanf(string(m.Value), "%d:%d", &gotP, &i); err != nil || gotP != p {
				t.Errorf("partition %d holds %q", p, m.Value)
			}
		}
	}

	// A partition the topic does not have fails the write.
	w = o.NewWriter("routed", PartitionBalancer{})
	w.MaxAttempts = 1
	defer w.Close()
	if err := w.WriteMessages(ctx, Message{Value: []byte("x"), Partition: 7}); err == nil {
		t.Error("write to partition 7 of 4 succeeded")
	}
}

func TestNewWriter_Settings(t *testing.T) {
	o := mustNew(t, Config{Brokers: []string{"127.0.0.1:1"}})
	w := o.NewWriter("t", nil)
	defer w.Close()
	if w.RequiredAcks != kafkago.RequireAll || w.Compression != kafkago.Lz4 || w.AllowAutoTopicCreation ||
		w.BatchTimeout != 5*time.Millisecond || w.BatchSize != 2000 || w.BatchBytes != 1<<20 {
		t.Errorf("writer settings: acks %v, compression %v, auto-create %v, batch %v/%d/%d",
			w.RequiredAcks, w.Compression, w.AllowAutoTopicCreation, w.BatchTimeout, w.BatchSize, w.BatchBytes)
	}
	if _, ok := w.Balancer.(*kafkago.Hash); !ok {
		t.Errorf("nil balancer became %T, want *kafka.Hash", w.Balancer)
	}
	if w.Topic != "t" {
		t.Errorf("topic %q, want t", w.Topic)
	}
}

func TestConfig_Validate(t *testing.T) {
	f := func(o Config, ok bool) {
		t.Helper()
		o.setDefaults()
		if err := o.validate(); (err == nil) != ok {
			t.Errorf("%+v: err = %v, want ok=%v", o, err, ok)
		}
	}
	f(Config{Brokers: []string{"b:9092"}}, true)
	f(Config{}, false)
	f(Config{Brokers: []string{"b:9092"}, HeartbeatInterval: 10 * time.Second}, false)
	f(Config{Brokers: []string{"b:9092"}, BatchBytes: 32 << 20}, false)
	f(Config{Brokers: []string{"b:9092"}, BatchBytes: 32 << 20, FetchMaxBytes: 32 << 20}, true)
}

func TestThrottle(t *testing.T) {
	th := &throttle{period: time.Second}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at      time.Duration
		ok      bool
		dropped int
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{900 * time.Millisecond, false, 0},
		{time.Second, true, 2},
		{1500 * time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
	}
	for _, s := range steps {
		ok, dropped := th.allow(t0.Add(s.at))
		if ok != s.ok || dropped != s.dropped {
			t.Errorf("at %v: allow = %v, %d; want %v, %d", s.at, ok, dropped, s.ok, s.dropped)
		}
	}
}
