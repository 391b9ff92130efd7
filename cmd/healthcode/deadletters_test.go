package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sources/sourcestest"
)

// TestDeadLettersCommand: the ingest stage dead-letters one message of every
// bad-input class; `dead-letters list` shows each (reason, origin) and no
// identifier from the raw input; `replay` re-sends the chosen one to its
// source topic and partition, and a dry run sends nothing.
func TestDeadLettersCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := broker.Start(broker.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := strings.Join(b.Addrs(), ",")
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := pipeline.Options{Kafka: kafka.Config{Brokers: b.Addrs()}, Partitions: 2, Policy: pol, Stages: []string{pipeline.StageIngest}}
	o.Decoder.Key = []byte("dead-letters-test-key")
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	kc := p.Kafka()
	conf, err := kc.TopicConfig(ctx, "hc.dead-letter", "retention.ms")
	if err != nil || conf["retention.ms"] != "604800000" {
		t.Errorf("hc.dead-letter retention.ms = %v (%v), want 7 days", conf, err)
	}

	bad := sourcestest.BadInput()
	w := kc.NewWriter("", &kafka.Hash{})
	defer w.Close()
	var msgs []kafka.Message
	for _, m := range bad {
		msgs = append(msgs, kafka.Message{Topic: m.Stream.DefaultTopic(), Value: m.Value})
	}
	if err := kafka.Write(ctx, w, msgs...); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	for p.Metrics().DeadLetters.Load() < int64(len(bad)) {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d dead letters", p.Metrics().DeadLetters.Load(), len(bad))
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	out, err := run(t, deadLettersCmd, "list", "--brokers", addr)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out, "\n"); lines != len(bad)+2 {
		t.Errorf("list printed %d lines, want a header, %d dead letters and a count:\n%s", lines, len(bad), out)
	}
	for _, m := range bad {
		if !strings.Contains(out, m.Error) {
			t.Errorf("list does not show the reason %q", m.Error)
		}
		for _, s := range m.Secrets {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("list shows an identifier of the raw input of class %q", m.Class)
			}
		}
		if bytes.Contains([]byte(out), m.Value) {
			t.Errorf("list shows the raw input of class %q", m.Class)
		}
	}
	if !strings.Contains(out, "src.declarations") || !strings.Contains(out, strconv.Itoa(len(bad))+" dead letters") {
		t.Errorf("list output lacks topics or the count:\n%s", out)
	}
	out, err = run(t, deadLettersCmd, "list", "--brokers", addr, "--source-topic", "src.area-risk", "--since", "1h")
	if err != nil || strings.Contains(out, "src.tests") || strings.Contains(out, "\n0 dead letters") {
		t.Errorf("list --topic src.area-risk = %v:\n%s", err, out)
	}

	// Replay the one with a reason of its own.
	var chosen sourcestest.Bad
	for _, m := range bad {
		if m.Class == "wrong JSON type" {
			chosen = m
		}
	}
	topic := chosen.Stream.DefaultTopic()
	total := func() int64 {
		n, err := kc.PartitionCount(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for q := range n {
			ends, err := kc.EndOffsets(ctx, topic, q)
			if err != nil {
				t.Fatal(err)
			}
			sum += ends[q]
		}
		return sum
	}
	before := total()
	out, err = run(t, deadLettersCmd, "replay", "--brokers", addr, "--reason-contains", chosen.Error, "--dry-run")
	if err != nil || !strings.HasPrefix(out, "dry run: would replay 1 dead letters to their source topics; offsets: ") {
		t.Errorf("dry run = %v: %s", err, out)
	}
	if total() != before {
		t.Error("a dry run sent messages")
	}
	out, err = run(t, deadLettersCmd, "replay", "--brokers", addr, "--reason-contains", chosen.Error)
	if err != nil || !strings.HasPrefix(out, "replayed 1 dead letters to their source topics; offsets: ") {
		t.Errorf("replay = %v: %s", err, out)
	}
	if after := total(); after != before+1 {
		t.Errorf("%s grew by %d messages on replay, want 1", topic, after-before)
	}
	found := false
	for q := range 2 {
		ends, _ := kc.EndOffsets(ctx, topic, q)
		_ = kc.Replay(ctx, topic, q, ends[q], func(m *kafka.Message) error {
			found = found || (m.Offset == ends[q]-1 && bytes.Equal(m.Value, chosen.Value))
			return nil
		})
	}
	if !found {
		t.Errorf("the replayed message is not the last of its partition of %s", topic)
	}
	if _, err := run(t, deadLettersCmd, "replay", "--brokers", addr); err == nil {
		t.Error("replay without a choice was accepted")
	}
}
