package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// simMessages returns a small simulated province's upstream messages.
func simMessages(t *testing.T, people, days int) []sim.Message {
	t.Helper()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	var out []sim.Message
	_, err = sim.Run(context.Background(), sim.Config{People: people, Days: days, Seed: 3, Policy: pol}, func(m sim.Message) error {
		m.Key, m.Value = append([]byte(nil), m.Key...), append([]byte(nil), m.Value...)
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func produceSim(t *testing.T, brokers []string, msgs []sim.Message) {
	t.Helper()
	ctx := context.Background()
	topics := map[sources.Stream]string{}
	for _, s := range sources.Streams {
		topics[s] = s.DefaultTopic()
	}
	prod := pipeline.NewUpstreamProducer(kafkaClient(t, brokers), topics)
	for _, m := range msgs {
		if err := prod.Add(ctx, m.Stream, m.Key, m.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// finalColours reads hc.colour-updates: the colour of each person's highest
// version.
func finalColours(t *testing.T, brokers []string) map[string]string {
	t.Helper()
	type last struct {
		version uint64
		colour  string
	}
	by := map[string]last{}
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatal(err)
		}
		if l, ok := by[u.PersonKey]; !ok || u.Version > l.version {
			by[u.PersonKey] = last{u.Version, u.Colour}
		}
	}
	out := make(map[string]string, len(by))
	for k, l := range by {
		out[k] = l.colour
	}
	return out
}

func compareColours(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("the one-member run coloured nobody")
	}
	diff := 0
	for k, c := range want {
		if got[k] != c {
			diff++
		}
	}
	if diff > 0 || len(got) != len(want) {
		t.Errorf("%d of %d persons differ from the one-member run (%d persons coloured here)", diff, len(want), len(got))
	}
}

// member is one pipeline of a group, run in this process.
type member struct {
	p      *pipeline.Pipeline
	cancel context.CancelFunc
	done   chan error
}

func startMember(t *testing.T, brokers []string, stages ...string) *member {
	t.Helper()
	return startMemberWith(t, brokers, func(*pipeline.Options) {}, stages...)
}

// startMemberWith is startMember with the options adjusted by set.
func startMemberWith(t *testing.T, brokers []string, set func(*pipeline.Options), stages ...string) *member {
	t.Helper()
	o := memberOptions(t, brokers, stages...)
	set(&o)
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The topics exist before the caller produces into them (Run would
	// create them too, but concurrently with the caller's first write).
	if err := p.EnsureTopics(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &member{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- p.Run(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// memberOptions are a member's options: 4 partitions, the domestic policy,
// the event clock.
func memberOptions(t *testing.T, brokers []string, stages ...string) pipeline.Options {
	t.Helper()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := pipeline.Options{
		Kafka:      kafka.Config{Brokers: brokers, HeartbeatInterval: 100 * time.Millisecond},
		Partitions: 4,
		Policy:     pol,
		Clock:      pipeline.ClockEvent,
		Stages:     stages,
	}
	o.Decoder.Key = testKey
	return o
}

func (m *member) stop(t *testing.T) {
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("pipeline: %v", err)
		}
		m.done <- nil // a second stop returns at once
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop within 30s")
	}
}

func (m *member) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.p.WaitDrained(ctx, 200*time.Millisecond, nil); err != nil {
		t.Fatalf("pipeline did not drain: %v", err)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRebalance_KeepsStateOfPartitionsThatStay runs a province's first half
// through one member, lets a second member join (a rebalance that moves half
// of the score and trace partitions), and runs the second half through both.
// The first member must keep, not restore, the partitions it keeps, and the
// final colours must equal a one-member run of the same input.
func TestRebalance_KeepsStateOfPartitionsThatStay(t *testing.T) {
	msgs := simMessages(t, 1500, 5)
	half := len(msgs) / 2
	stages := []string{pipeline.StageIngest, pipeline.StageScore, pipeline.StageTrace}

	ref, err := broker.Start(broker.Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ref.Close) // after the members' cleanups, which stop them
	one := startMember(t, ref.Addrs(), stages...)
	produceSim(t, ref.Addrs(), msgs)
	one.drain(t)
	want := finalColours(t, ref.Addrs())

	emb, err := broker.Start(broker.Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	a := startMember(t, emb.Addrs(), stages...)
	produceSim(t, emb.Addrs(), msgs[:half])
	a.drain(t)
	ma := a.p.Metrics()
	if got := ma.PartitionRestores.Load(); got != 8 {
		t.Fatalf("first member restored %d partitions, want 8 (4 score, 4 trace)", got)
	}

	b := startMember(t, emb.Addrs(), stages...)
	mb := b.p.Metrics()
	waitUntil(t, 30*time.Second, "the second member to take half the partitions", func() bool {
		return mb.PartitionRestores.Load() == 4 && ma.PartitionsKept.Load() >= 4
	})
	produceSim(t, emb.Addrs(), msgs[half:])
	a.drain(t)
	if got := ma.PartitionRestores.Load(); got != 8 {
		t.Errorf("first member restored %d partitions in all, want 8: the rebalance re-restored kept partitions", got)
	}
	t.Logf("first member: %d restores, %d partitions kept; second: %d restores", ma.PartitionRestores.Load(), ma.PartitionsKept.Load(), mb.PartitionRestores.Load())
	compareColours(t, finalColours(t, emb.Addrs()), want)
}
