package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
)

// metricSum sums the samples of family name whose labels include want (a
// histogram's sample count).
func metricSum(t *testing.T, fams []*dto.MetricFamily, name string, want map[string]string) (float64, int) {
	t.Helper()
	var sum float64
	var series int
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			series++
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, series
}

// zeroed are the families whose known label sets the pipeline creates at zero
// when it is built (observe_zero.go).
var zeroed = []string{"healthcode_messages_total", "healthcode_dead_letters_total", "healthcode_partitions_owned",
	"healthcode_batch_seconds", "healthcode_restore_seconds", "healthcode_clickhouse_errors_total",
	"healthcode_clickhouse_retries_total", "healthcode_colour_updates_total"}

// seriesOf returns the series of the zeroed families in fams, each as its
// name and labels, with its value (a histogram's sample count).
func seriesOf(fams []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		if !slices.Contains(zeroed, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			id := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			out[id] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// freshSeries returns the zeroed series of a pipeline of every stage that is
// built and never run.
func freshSeries(t *testing.T, brokers []string) map[string]float64 {
	t.Helper()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := pipeline.Options{Kafka: kafka.Config{Brokers: brokers}, Partitions: 4, Policy: pol}
	o.Decoder.Key = testKey
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := p.Metrics().Register(reg); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return seriesOf(fams)
}

// TestMetrics_ZeroSeries: a pipeline that has not run exports, at zero, the
// series the dashboard reads whose labels are known in advance.
func TestMetrics_ZeroSeries(t *testing.T) {
	fresh := freshSeries(t, []string{"127.0.0.1:1"}) // New does not connect
	for _, id := range []string{
		`healthcode_messages_total{stage=ingest,topic=src.tests}`,
		`healthcode_messages_total{stage=score,topic=hc.colour-updates}`,
		`healthcode_messages_total{stage=sink,topic=hc.dead-letter}`,
		`healthcode_dead_letters_total{topic=src.checkins}`,
		`healthcode_dead_letters_total{topic=hc.policy}`,
		`healthcode_dead_letters_total{topic=hc.scoring-state}`,
		`healthcode_partitions_owned{stage=trace}`,
		`healthcode_batch_seconds{stage=ingest}`,
		`healthcode_restore_seconds{stage=score}`,
		`healthcode_colour_updates_total{colour=red}`,
	} {
		if v, ok := fresh[id]; !ok || v != 0 {
			t.Errorf("%s: present %v, value %v; want present at 0", id, ok, v)
		}
	}
	for _, table := range []string{"events", "colour_changes", "colours_current", "exposures", "area_designations", "policy_versions"} {
		for _, name := range []string{"healthcode_clickhouse_errors_total", "healthcode_clickhouse_retries_total"} {
			if _, ok := fresh[name+"{table="+table+"}"]; !ok {
				t.Errorf("%s{table=%s} is not exported before the first insert", name, table)
			}
		}
	}
}

// TestMetrics_EndToEnd runs the pipeline with its metrics on a registry and
// checks that /metrics would tell what the counters tell, that person events
// carry the upstream time, and that the process reports ready once drained.
func TestMetrics_EndToEnd(t *testing.T) {
	brokers, chOpts := startParts(t)
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
	reg := prometheus.NewRegistry()
	if err := h.p.Metrics().Register(reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan error, 1)
	go func() { polled <- h.p.PollLag(ctx, 100*time.Millisecond) }()
	defer func() { cancel(); <-polled }()

	r := rand.New(rand.NewPCG(3, 5))
	var msgs []upstream
	for i := range 20 {
		p := newPerson(r, "330102")
		msgs = append(msgs, upstream{"src.tests", "", fmt.Sprintf(
			`{"event_id":"pcr-%d","source":"e2e","occurred_at":"2020-03-02T09:%02d:00+08:00","person":%s,"test":{"kind":"pcr","result":"positive","reported_at":"2020-03-02T20:00:00+08:00","lab":"lab-1"}}`, i, i, p.json())})
	}
	msgs = append(msgs, upstream{"src.checkins", "", `{"event_id": "broken"`})
	produce(t, brokers, msgs)
	h.drain(context.Background())

	// The lag poll and the sink's rows catch up a little after the drain.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := h.p.Ready()
		fams, gerr := reg.Gather()
		if gerr != nil {
			t.Fatal(gerr)
		}
		rows, _ := metricSum(t, fams, "healthcode_clickhouse_rows_total", map[string]string{"table": "colours_current"})
		lag, lagSeries := metricSum(t, fams, "healthcode_consumer_lag", nil)
		if err == nil && rows == 20 && lagSeries > 0 && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled within 30s: ready %v, colours_current rows %v, lag %v over %d series", err, rows, lag, lagSeries)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// The run added no label set to the families created at zero: what
	// observe_zero.go lists is what the stages count under.
	fresh := freshSeries(t, brokers)
	for id := range seriesOf(fams) {
		if _, ok := fresh[id]; !ok {
			t.Errorf("%s appeared during the run; a fresh process does not export it at zero (observe_zero.go)", id)
		}
	}
	m := h.p.Metrics()
	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got, _ := metricSum(t, fams, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	check("healthcode_messages_total", map[string]string{"stage": "ingest", "topic": "src.tests"}, 20)
	check("healthcode_messages_total", map[string]string{"stage": "ingest", "topic": "src.checkins"}, 1)
	check("healthcode_messages_total", map[string]string{"stage": "ingest", "topic": "hc.dead-letter"}, 1)
	check("healthcode_messages_total", map[string]string{"stage": "score", "topic": "hc.colour-updates"}, float64(m.Updates.Load()))
	check("healthcode_dead_letters_total", map[string]string{"topic": "src.checkins"}, 1)
	check("healthcode_partitions_owned", map[string]string{"stage": "score"}, 4)
	check("healthcode_partitions_owned", map[string]string{"stage": "trace"}, 4)
	check("healthcode_update_latency_seconds", nil, float64(m.Updates.Load()))
	check("healthcode_colour_updates_total", map[string]string{"colour": "red"}, 20)
	check("healthcode_clickhouse_rows_total", map[string]string{"table": "events"}, float64(m.EventRows.Load()))
	check("healthcode_clickhouse_errors_total", nil, 0)
	persons, series := metricSum(t, fams, "healthcode_persons", nil)
	if persons != 20 || series != 4 {
		t.Errorf("healthcode_persons sums to %v over %d partitions, want 20 over 4", persons, series)
	}
	for _, stage := range []string{"score", "trace"} {
		if n, _ := metricSum(t, fams, "healthcode_restore_seconds", map[string]string{"stage": stage}); n < 4 {
			t.Errorf("healthcode_restore_seconds{stage=%s} has %v observations, want at least 4", stage, n)
		}
	}
	for _, stage := range []string{"ingest", "score", "sink"} {
		if n, _ := metricSum(t, fams, "healthcode_batch_seconds", map[string]string{"stage": stage}); n == 0 {
			t.Errorf("healthcode_batch_seconds{stage=%s} has no observations", stage)
		}
	}

	// Every person-events message from ingest carries the upstream time.
	now := time.Now()
	stamped := 0
	for _, msg := range readAll(t, brokers, "hc.person-events") {
		v := header(msg, pipeline.UpstreamTimeHeader)
		if v == "" {
			continue
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || time.UnixMilli(ms).After(now) || now.Sub(time.UnixMilli(ms)) > time.Minute {
			t.Errorf("header %s = %q", pipeline.UpstreamTimeHeader, v)
		}
		stamped++
	}
	if stamped == 0 {
		t.Error("no hc.person-events message carries the upstream time")
	}
}

// TestReady_ClickHouseDown: a sink that cannot reach ClickHouse makes the
// process not ready, and says why.
func TestReady_ClickHouseDown(t *testing.T) {
	brokers, _ := startParts(t)
	h := startPipeline(t, brokers, clickhouse.Options{Addr: "127.0.0.1:1", Database: "nowhere"})
	defer h.stop()
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan error, 1)
	go func() { polled <- h.p.PollLag(ctx, 100*time.Millisecond) }()
	defer func() { cancel(); <-polled }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := h.p.Ready()
		if err != nil && strings.Contains(err.Error(), "sink: clickhouse:") && !strings.Contains(err.Error(), "not connected yet") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready = %v, want the sink's ClickHouse error", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
