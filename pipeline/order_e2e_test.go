package pipeline_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"healthcode/pipeline"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// TestEndToEnd_OrderIndependence runs one simulated province twice through
// the whole pipeline (kfake and a real ClickHouse, a fresh broker and
// database each time), once in the simulator's publishing order and once with
// every upstream message shuffled (later positives before earlier ones,
// designations after the stays they cover, negatives in any order), and finds
// the same current exposures (exposures FINAL, not retracted) and the same
// colours and reasons (colours_current FINAL).
func TestEndToEnd_OrderIndependence(t *testing.T) {
	if testing.Short() {
		t.Skip("order end-to-end test skipped in -short mode")
	}
	ctx := context.Background()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	var truth bytes.Buffer
	cfg := sim.Config{People: 4000, Days: 7, Seed: 5, Key: testKey, Contacts: &truth, Policy: pol}
	var msgs []sim.Message
	if _, err := sim.Run(ctx, cfg, func(m sim.Message) error {
		m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value)
		msgs = append(msgs, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(msgs)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	first := runProvince(t, ctx, msgs)
	second := runProvince(t, ctx, shuffled)
	for _, part := range []string{"exposures", "colours"} {
		a, b := first[part], second[part]
		if len(a) == 0 {
			t.Fatalf("no %s in the first run", part)
		}
		if !slices.Equal(a, b) {
			diff := 0
			for _, x := range a {
				if !slices.Contains(b, x) {
					if diff++; diff <= 5 {
						t.Errorf("%s only in the simulator's order: %s", part, x)
					}
				}
			}
			for _, x := range b {
				if !slices.Contains(a, x) {
					if diff++; diff <= 10 {
						t.Errorf("%s only in the shuffled order: %s", part, x)
					}
				}
			}
			t.Errorf("%s differ: %d and %d rows, %d differences", part, len(a), len(b), diff)
		}
		t.Logf("%s: %d rows in both orders", part, len(a))
	}
}

// runProvince sends msgs, in that order, through a fresh pipeline and returns
// the current exposures and colours, rendered and sorted.
func runProvince(t *testing.T, ctx context.Context, msgs []sim.Message) map[string][]string {
	t.Helper()
	brokers, chOpts := startParts(t)
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
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
	h.drain(ctx)
	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string][]string{}
	query := func(part, q string) {
		rows, err := c.Conn().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out[part] = append(out[part], line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	query("exposures", `SELECT concat(exposure_id, ' ', toString(exposed_key), '<-', source_key, ' ', toString(kind), ' ', place, ' ',
toString(overlap_start), '..', toString(overlap_end), ' at ', toString(exposed_at), ' ', arrayStringConcat(evidence, ','))
FROM exposures FINAL WHERE retracted = 0 ORDER BY exposed_key, exposure_id`)
	query("colours", `SELECT concat(toString(person_key), ' ', colour, ' ', toString(review_at), ' ', reasons)
FROM colours_current FINAL ORDER BY person_key`)
	kinds := map[string]int{}
	for _, x := range out["exposures"] {
		kinds[strings.Fields(x)[2]]++
	}
	t.Logf("%d messages: %d current exposures %v, %d persons coloured", len(msgs), len(out["exposures"]), kinds, len(out["colours"]))
	return out
}
