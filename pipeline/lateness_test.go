package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/sinks"
	"healthcode/sources/sim"
)

// TestLateness_VersionsDoNotDependOnArrivalOrder runs one simulated province
// through ingest, score and trace three times, each on a broker of its own
// with the whole input written before the pipeline starts and small ingest
// batches: in the simulator's order and reversed (within runs of 100
// messages, later events first), both with a lateness longer than the
// province's time, and reversed without one. With the lateness every version
// of every person (content, effective_at included) is the same in both
// orders; without it the reversed order dates versions by whichever event
// came first.
func TestLateness_VersionsDoNotDependOnArrivalOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("three pipeline runs skipped in -short mode")
	}
	msgs := simMessages(t, 400, 3)
	reversed := slices.Clone(msgs)
	for i := 0; i < len(reversed); i += 100 {
		slices.Reverse(reversed[i:min(i+100, len(reversed))])
	}
	run := func(msgs []sim.Message, lateness time.Duration) map[string]string {
		b, err := broker.Start(broker.Options{Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ensureTopics(t, b.Addrs())
		produceSim(t, b.Addrs(), msgs)
		m := startMemberWith(t, b.Addrs(), func(o *pipeline.Options) { o.Lateness, o.IngestBatch = lateness, 25 },
			pipeline.StageIngest, pipeline.StageScore, pipeline.StageTrace)
		m.drain(t)
		// Drained: nothing held, and a series per owned partition only
		// where events are held at all.
		reg := prometheus.NewRegistry()
		if err := m.p.Metrics().Register(reg); err != nil {
			t.Fatal(err)
		}
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		wantSeries := 0
		if lateness > 0 {
			wantSeries = 4
		}
		if held, series := metricSum(t, fams, "healthcode_held_events", nil); held != 0 || series != wantSeries {
			t.Errorf("lateness %v, drained: healthcode_held_events sums to %v over %d partitions, want 0 over %d", lateness, held, series, wantSeries)
		}
		m.stop(t)
		return versions(t, b.Addrs())
	}
	const days30 = 30 * 24 * time.Hour
	want := run(msgs, days30)
	if len(want) == 0 {
		t.Fatal("no colour updates")
	}
	if d := diffVersions(want, run(reversed, days30)); len(d) > 0 {
		t.Errorf("with the lateness, %d person versions differ between the two orders, e.g. %v", len(d), d[:min(3, len(d))])
	}
	if d := diffVersions(want, run(reversed, 0)); len(d) == 0 {
		t.Errorf("without the lateness the reversed order gave the same versions: the test no longer reorders anything that matters")
	} else {
		t.Logf("without the lateness, %d person versions differ between the two orders", len(d))
	}
}

// ensureTopics creates the pipeline's topics (4 partitions), as a member
// would, before anything runs.
func ensureTopics(t *testing.T, brokers []string) {
	t.Helper()
	p, err := pipeline.New(memberOptions(t, brokers))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// versions reads hc.colour-updates: every person version and its content.
func versions(t *testing.T, brokers []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%s/%d", u.PersonKey, u.Version)] = string(m.Value)
	}
	return out
}

func diffVersions(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, k)
		}
	}
	slices.Sort(d)
	return d
}
