package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// contactRank orders the kinds for a (exposed, source) pair as the simulator's
// ground truth does: a pair counts once, at its strongest kind.
var contactRank = map[string]int{sim.ContactClose: 3, sim.ContactCompanion: 2, sim.ContactSecondary: 1}

// TestEndToEnd_Outbreak runs a simulated outbreak through the whole pipeline
// (kfake and a real ClickHouse) and scores the exposures in ClickHouse against
// the simulator's ground truth: precision and recall must both be 1.0.
func TestEndToEnd_Outbreak(t *testing.T) {
	if testing.Short() {
		t.Skip("outbreak end-to-end test skipped in -short mode")
	}
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()

	topics := map[sources.Stream]string{}
	for _, s := range sources.Streams {
		topics[s] = s.DefaultTopic()
	}
	prod := pipeline.NewUpstreamProducer(kafkaClient(t, brokers), topics)
	var truth bytes.Buffer
	pol, err := policies.Load("domestic") // the pipeline's policy (startPipeline): the truth follows its definitions
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.Config{People: 10000, Days: 7, Seed: 2, Key: testKey, Contacts: &truth, Policy: pol}
	start := time.Now()
	sum, err := sim.Run(ctx, cfg, func(m sim.Message) error { return prod.Add(ctx, m.Stream, m.Key, m.Value) })
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h.drain(ctx)
	t.Logf("%d upstream messages, %d infected, through the pipeline in %s", prod.Sent(), sum.Infected, time.Since(start).Round(time.Millisecond))

	want := map[string]string{}
	contacts, err := sim.ReadContacts(&truth)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		want[c.Exposed+"<"+c.Source] = c.Kind
	}

	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.Conn().Query(ctx, `SELECT exposed_key, source_key, toString(kind) FROM exposures FINAL
WHERE retracted = 0 AND kind IN ('close_contact', 'companion', 'secondary_contact')`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var exposed, source, kind string
		if err := rows.Scan(&exposed, &source, &kind); err != nil {
			t.Fatal(err)
		}
		k := exposed + "<" + source
		if contactRank[kind] > contactRank[got[k]] {
			got[k] = kind
		}
	}
	rows.Close()

	var tp int
	var missed, extra []string
	for k, kind := range want {
		if got[k] == kind {
			tp++
		} else {
			missed = append(missed, fmt.Sprintf("%s want %s got %q", k, kind, got[k]))
		}
	}
	for k, kind := range got {
		if want[k] != kind {
			extra = append(extra, fmt.Sprintf("%s got %s want %q", k, kind, want[k]))
		}
	}
	sort.Strings(missed)
	sort.Strings(extra)
	precision, recall := ratio(tp, len(got)), ratio(tp, len(want))
	perKind := map[string]int{}
	for _, kind := range want {
		perKind[kind]++
	}
	t.Logf("ground truth %v; pipeline pairs %d; precision %.4f recall %.4f", perKind, len(got), precision, recall)
	if len(want) == 0 || perKind[sim.ContactClose] == 0 || perKind[sim.ContactCompanion] == 0 || perKind[sim.ContactSecondary] == 0 {
		t.Fatalf("the simulated outbreak must produce every kind of contact: %v", perKind)
	}
	if precision != 1 || recall != 1 {
		t.Errorf("precision %.4f, recall %.4f; want 1 and 1", precision, recall)
		for i, m := range missed {
			if i == 10 {
				break
			}
			t.Logf("missed: %s", m)
		}
		for i, e := range extra {
			if i == 10 {
				break
			}
			t.Logf("extra: %s", e)
		}
	}

	// In event-clock mode nothing is decided ahead of the upstream clock: an
	// area exposure dated at the end of a stay must not move it.
	var latestUpstream, latestDecision time.Time
	if err := c.Conn().QueryRow(ctx, "SELECT max(occurred_at) FROM events WHERE kind != 'exposure'").Scan(&latestUpstream); err != nil {
		t.Fatal(err)
	}
	if err := c.Conn().QueryRow(ctx, "SELECT max(effective_at) FROM colour_changes").Scan(&latestDecision); err != nil {
		t.Fatal(err)
	}
	if latestDecision.After(latestUpstream) {
		t.Errorf("a colour took effect at %s, after the latest upstream event at %s", latestDecision, latestUpstream)
	}

	// The table holds chains: every secondary contact's source is a close
	// contact of some case.
	var broken uint64
	if err := c.Conn().QueryRow(ctx, `SELECT count() FROM exposures FINAL WHERE retracted = 0 AND kind = 'secondary_contact'
AND source_key NOT IN (SELECT toString(exposed_key) FROM exposures FINAL WHERE retracted = 0 AND kind = 'close_contact')`).Scan(&broken); err != nil {
		t.Fatal(err)
	}
	if broken != 0 {
		t.Errorf("%d secondary exposures whose source is no close contact", broken)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
