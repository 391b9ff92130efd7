package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

// TestSink_RefusedRowsAreDeadLettered: rows ClickHouse refuses, mixed into
// good ones, go to hc.dead-letter with the table and the reason, and every
// good row of their batches is written. Two refusals: an event the server
// itself refuses (a throwIf in a MATERIALIZED column, the CHECK constraint
// 18.16 has, added to the events table for the test), and a colour update
// whose effective_at is beyond what a DateTime holds.
func TestSink_RefusedRowsAreDeadLettered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, chOpts := startParts(t)
	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Conn().Exec(ctx, "ALTER TABLE events ADD COLUMN refuse UInt8 MATERIALIZED throwIf(seat_row = 999)"); err != nil {
		t.Fatal(err)
	}

	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Options{Kafka: kafka.Config{Brokers: brokers}, Partitions: 4, Policy: pol,
		ClickHouse: chOpts, Clock: pipeline.ClockEvent, Stages: []string{pipeline.StageSink}, SinkLinger: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options()
	if err := p.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}

	// Two messages of person events on partition 1; the first holds a
	// refused event (index 10).
	r := rand.New(rand.NewPCG(3, 4))
	at := scoring.MustTime("2020-03-05T08:00:00Z")
	var evs [2][]scoring.Event
	for m, n := range []int{50, 30} {
		for i := range n {
			var k scoring.PersonKey
			for j := range k {
				k[j] = byte(r.Uint32())
			}
			evs[m] = append(evs[m], scoring.Event{Person: k, Kind: scoring.KindArrival, At: at.Add(time.Duration(i) * time.Minute),
				End: at.Add(-2 * time.Hour), Row: int16(1 + i%30), Place: "CA936/2020-03-05", Country: "DEU",
				ID: fmt.Sprintf("arr-%d-%d", m, i), Source: "airline"})
		}
	}
	evs[0][10].Row = 999
	kc := kafkaClient(t, brokers)
	w := kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{})
	defer w.Close()
	for _, batch := range evs {
		b, err := wire.EncodeEvents(batch)
		if err != nil {
			t.Fatal(err)
		}
		if err := kafka.Write(ctx, w, kafka.Message{Partition: 1, Key: batch[0].Person[:], Value: b}); err != nil {
			t.Fatal(err)
		}
	}
	// Six colour updates; the fourth is dated 2200.
	cw := kc.NewWriter(o.Topics.ColourUpdates, &kafka.Murmur2Balancer{})
	defer cw.Close()
	for i := range 6 {
		u := sinks.ColourUpdate{PersonKey: evs[1][i].Person.String(), Colour: "yellow", Level: 1, Version: 1,
			Policy: pol.Stamp(), EffectiveAt: "2020-03-05T16:00:00+08:00", Reasons: []sinks.Reason{}}
		if i == 3 {
			u.EffectiveAt = "2200-01-01T00:00:00+08:00"
		}
		b, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := kafka.Write(ctx, cw, kafka.Message{Key: []byte(u.PersonKey), Value: b}); err != nil {
			t.Fatal(err)
		}
	}

	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	}()

	count := func(q string) uint64 {
		var n uint64
		if err := c.Conn().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for count("SELECT count() FROM events")+count("SELECT count() FROM colour_changes") < 79+5 || p.Metrics().DeadLetters.Load() < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("sink did not write the good rows: events %d, colour_changes %d, dead letters %d",
				count("SELECT count() FROM events"), count("SELECT count() FROM colour_changes"), p.Metrics().DeadLetters.Load())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := count("SELECT count() FROM events WHERE seat_row = 999"); n != 0 {
		t.Errorf("the refused event was written (%d rows)", n)
	}
	if n := count("SELECT count() FROM colours_current"); n != 5 {
		t.Errorf("colours_current holds %d rows, want 5", n)
	}

	dead := readAll(t, brokers, o.Topics.DeadLetter)
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	byTable := map[string]kafka.Message{}
	for _, m := range dead {
		byTable[header(m, pipeline.HeaderTable)] = m
	}
	ev, ok := byTable["events"]
	if !ok {
		t.Fatalf("no dead letter from the events table: %v", dead)
	}
	if e := header(ev, pipeline.HeaderError); !strings.Contains(e, "clickhouse events refused the row") || !strings.Contains(e, "code: 395") {
		t.Errorf("events dead letter error %q, want the server's refusal (code 395)", e)
	}
	if header(ev, pipeline.HeaderTopic) != o.Topics.PersonEvents || header(ev, pipeline.HeaderPartition) != "1" || header(ev, pipeline.HeaderOffset) != "0" {
		t.Errorf("events dead letter origin %s/%s@%s, want %s/1@0", header(ev, pipeline.HeaderTopic),
			header(ev, pipeline.HeaderPartition), header(ev, pipeline.HeaderOffset), o.Topics.PersonEvents)
	}
	one, err := wire.DecodeEvents(ev.Value, nil)
	if err != nil || len(one) != 1 || one[0].ID != "arr-0-10" {
		t.Errorf("events dead letter holds %v (%v), want the refused event alone", one, err)
	}
	cu, ok := byTable["colour_changes"]
	if !ok {
		t.Fatalf("no dead letter from colour_changes: %v", dead)
	}
	if e := header(cu, pipeline.HeaderError); !strings.Contains(e, "effective_at") || !strings.Contains(e, "outside 1970..2106") {
		t.Errorf("colour dead letter error %q, want the effective_at refusal", e)
	}
	var u sinks.ColourUpdate
	if err := json.Unmarshal(cu.Value, &u); err != nil || u.EffectiveAt != "2200-01-01T00:00:00+08:00" {
		t.Errorf("colour dead letter holds %s, want the refused update", cu.Value)
	}
	if _, err := strconv.Atoi(header(cu, pipeline.HeaderOffset)); err != nil || header(cu, pipeline.HeaderTopic) != o.Topics.ColourUpdates {
		t.Errorf("colour dead letter origin %s@%s", header(cu, pipeline.HeaderTopic), header(cu, pipeline.HeaderOffset))
	}
}
