package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"healthcode/pipeline/kafka"
)

// UpstreamTimeHeader is the header of an hc.person-events message written by
// the ingest stage: the Kafka timestamp (Unix milliseconds, decimal) of the
// oldest upstream message of the batch the message's events came from. The
// scoring stage measures healthcode_update_latency_seconds from it. A message
// without it (exposures, written by the tracing stage) counts from its own
// Kafka timestamp.
const UpstreamTimeHeader = "upstream-time-ms"

// promMetrics are the metrics of docs/operations.md "HTTP endpoints and
// metrics", and the state /readyz judges by.
type promMetrics struct {
	messages  *prometheus.CounterVec   // stage, topic
	dead      *prometheus.CounterVec   // topic the bad message came from
	owned     *prometheus.GaugeVec     // stage
	latency   prometheus.Histogram     // upstream Kafka timestamp -> colour update written
	batch     *prometheus.HistogramVec // stage
	persons   *prometheus.GaugeVec     // partition
	heldEvs   *prometheus.GaugeVec     // partition (run --lateness)
	restore   *prometheus.HistogramVec // stage
	chErrors  *prometheus.CounterVec   // table
	chRetries *prometheus.CounterVec   // table
	colours   *prometheus.CounterVec   // colour
	rows      *rowsCollector
	lag       *lagCollector

	mu        sync.Mutex     // protects the fields below
	restoring map[string]int // stage -> owned partitions not yet consuming
	chState   error          // the sink's last ClickHouse outcome; errNotYet until the first
}

var errNotYet = errors.New("not connected yet")

func newPromMetrics(m *Metrics) *promMetrics {
	secs := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	return &promMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_messages_total",
			Help: "Kafka messages consumed (the stage's input topics) and produced (its output topics), by stage and topic."}, []string{"stage", "topic"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_dead_letters_total",
			Help: "Messages sent to the dead-letter topic, by the topic the bad message came from."}, []string{"topic"}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "healthcode_partitions_owned",
			Help: "Partitions this process owns, by stage (score, trace and guard, the partitioned stages)."}, []string{"stage"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "healthcode_update_latency_seconds",
			Help:    "From the Kafka timestamp of the upstream message behind a colour update to the acknowledged write of the update.",
			Buckets: secs}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "healthcode_batch_seconds",
			Help: "Time to process one batch, from fetched (ingest: from its write) to committed, by stage.", Buckets: secs}, []string{"stage"}),
		persons: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "healthcode_persons",
			Help: "Persons whose scoring state this process holds, by owned partition of hc.person-events."}, []string{"partition"}),
		heldEvs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "healthcode_held_events",
			Help: "Events the score stage holds back for the watermark (run --lateness), by owned partition of hc.person-events."}, []string{"partition"}),
		restore: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "healthcode_restore_seconds",
			Help:    "Time from a partition's assignment to consuming it (score: changelog restored and reference data read; trace: place index rebuilt), by stage.",
			Buckets: secs}, []string{"stage"}),
		chErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_clickhouse_errors_total",
			Help: "Failed ClickHouse inserts, by table."}, []string{"table"}),
		chRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_clickhouse_retries_total",
			Help: "ClickHouse inserts retried after a failure (the batch is kept), by table."}, []string{"table"}),
		colours: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_colour_updates_total",
			Help: "Colour updates written to hc.colour-updates, by new colour."}, []string{"colour"}),
		rows:      &rowsCollector{m: m, desc: prometheus.NewDesc("healthcode_clickhouse_rows_total", "Rows inserted into ClickHouse, by table.", []string{"table"}, nil)},
		lag:       &lagCollector{desc: prometheus.NewDesc("healthcode_consumer_lag", "Messages not yet committed, by consumer group, topic and partition (polled; the whole group's, whichever process owns the partition).", []string{"group", "topic", "partition"}, nil)},
		restoring: map[string]int{},
		chState:   errNotYet,
	}
}

// Register puts the pipeline's metrics on r (the pipeline/service registry).
func (m *Metrics) Register(r prometheus.Registerer) error {
	p := m.p()
	for _, c := range []prometheus.Collector{p.messages, p.dead, p.owned, p.latency, p.batch, p.persons, p.heldEvs,
		p.restore, p.chErrors, p.chRetries, p.colours, p.rows, p.lag} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// consumed counts a batch of a stage's input and, for a non-empty batch,
// observes the time since start. Call it once the batch is committed.
func (m *Metrics) consumed(stage string, start time.Time, in []kafka.Message) {
	if len(in) == 0 {
		return
	}
	p := m.p()
	countByTopic(in, func(topic string, n int) { p.messages.WithLabelValues(stage, topic).Add(float64(n)) })
	p.batch.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}

// produced counts what a stage wrote, by topic; dead letters also by the topic
// of the bad message (their "topic" header). Call it once the writes are
// acknowledged.
func (m *Metrics) produced(stage string, outs ...output) {
	p := m.p()
	for _, out := range outs {
		if len(out.msgs) == 0 {
			continue
		}
		p.messages.WithLabelValues(stage, out.w.Topic).Add(float64(len(out.msgs)))
	}
}

// deadLettered counts dead letters by the topic each came from (its "topic"
// header); Options.deadLettered calls it.
func (m *Metrics) deadLettered(msgs []kafka.Message) {
	p := m.p()
	for i := range msgs {
		if from, ok := deadLetterOrigin(&msgs[i]); ok {
			p.dead.WithLabelValues(from).Inc()
		}
	}
}

// deadLetterOrigin returns the "topic" header of a dead letter (one with an
// "error" header, see deadLetter).
func deadLetterOrigin(m *kafka.Message) (string, bool) {
	var topic string
	var isDead bool
	for _, h := range m.Headers {
		switch h.Key {
		case "error":
			isDead = true
		case "topic":
			topic = string(h.Value)
		}
	}
	return topic, isDead
}

func countByTopic(msgs []kafka.Message, f func(topic string, n int)) {
	start := 0
	for i := 1; i <= len(msgs); i++ {
		if i == len(msgs) || msgs[i].Topic != msgs[start].Topic {
			f(msgs[start].Topic, i-start)
			start = i
		}
	}
}

// stampUpstream sets UpstreamTimeHeader on every message of out to the oldest
// Kafka timestamp of in, the upstream batch they came from.
func stampUpstream(out, in []kafka.Message) {
	var oldest time.Time
	for i := range in {
		if t := in[i].Time; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return
	}
	v := []byte(strconv.FormatInt(oldest.UnixMilli(), 10))
	for i := range out {
		out[i].Headers = append(out[i].Headers, kafka.Header{Key: UpstreamTimeHeader, Value: v})
	}
}

// upstreamTime is the time behind a person-events message: its
// UpstreamTimeHeader, else its own Kafka timestamp.
func upstreamTime(m *kafka.Message) time.Time {
	for _, h := range m.Headers {
		if h.Key == UpstreamTimeHeader {
			if ms, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				return time.UnixMilli(ms)
			}
		}
	}
	return m.Time
}

// updatesWritten observes, for each colour update of updates (acknowledged
// just now), the latency from the oldest upstream time behind the input batch
// in, and counts it by its new colour.
func (m *Metrics) updatesWritten(in, updates []kafka.Message) {
	if len(updates) == 0 {
		return
	}
	p := m.p()
	var oldest time.Time
	for i := range in {
		if t := upstreamTime(&in[i]); !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if !oldest.IsZero() {
		lat := time.Since(oldest).Seconds()
		for range updates {
			p.latency.Observe(lat)
		}
	}
	for i := range updates {
		p.colours.WithLabelValues(colourOf(updates[i].Value)).Inc()
	}
}

var colourField = []byte(`"colour":"`)

// colourOf reads the colour of a hc.colour-updates JSON value
// (sinks.ColourUpdate) without decoding all of it.
func colourOf(b []byte) string {
	if i := bytes.Index(b, colourField); i >= 0 {
		rest := b[i+len(colourField):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			return string(rest[:j])
		}
	}
	var v struct {
		Colour string `json:"colour"`
	}
	_ = json.Unmarshal(b, &v)
	return v.Colour
}

// claimObs follows one owned partition of a partitioned stage.
type claimObs struct {
	p         *promMetrics
	stage     string
	partition string
	restoring bool
}

// claim counts a partition as owned and restoring until restored or release.
func (m *Metrics) claim(stage string, partition int) *claimObs {
	p := m.p()
	p.owned.WithLabelValues(stage).Inc()
	p.mu.Lock()
	p.restoring[stage]++
	p.mu.Unlock()
	return &claimObs{p: p, stage: stage, partition: strconv.Itoa(partition), restoring: true}
}

// restored marks the partition as consuming and observes the time since start.
func (c *claimObs) restored(start time.Time) {
	c.p.restore.WithLabelValues(c.stage).Observe(time.Since(start).Seconds())
	c.doneRestoring()
}

// held sets the scoring state held for the partition.
func (c *claimObs) held(persons int) {
	c.p.persons.WithLabelValues(c.partition).Set(float64(persons))
}

// holding sets the events the partition holds back (run --lateness).
func (c *claimObs) holding(events int) {
	c.p.heldEvs.WithLabelValues(c.partition).Set(float64(events))
}

// release ends the claim (the handler returned).
func (c *claimObs) release() {
	c.doneRestoring()
	c.p.owned.WithLabelValues(c.stage).Dec()
	if c.stage == StageScore {
		c.p.persons.DeleteLabelValues(c.partition)
		c.p.heldEvs.DeleteLabelValues(c.partition)
	}
}

func (c *claimObs) doneRestoring() {
	if !c.restoring {
		return
	}
	c.restoring = false
	c.p.mu.Lock()
	c.p.restoring[c.stage]--
	c.p.mu.Unlock()
}

// clickhouseOpened records the outcome of the sink's connection attempt.
func (m *Metrics) clickhouseOpened(err error) {
	p := m.p()
	p.mu.Lock()
	p.chState = err
	p.mu.Unlock()
}

// sinkTables are the tables each sink group writes, in insert order.
var sinkTables = map[string][]string{
	StageSink + "-events":    {"events"},
	StageSink + "-colours":   {"colour_changes", "colours_current"},
	StageSink + "-exposures": {"exposures"},
	StageSink + "-areas":     {"area_designations"},
	StageSink + "-policies":  {"policy_versions"},
	StageSink + "-journeys":  {"return_journeys"},
	StageSink + "-overrides": {"override_audit", "override_alerts"},
}

// inserted records the outcome of one insert attempt of a sink group (its
// group name without the prefix, e.g. "sink-colours"): an error counts
// against the table it names (clickhouse wraps every insert error with
// "insert into TABLE"), and as a retry unless ctx is done.
func (m *Metrics) inserted(ctx context.Context, group string, err error) {
	p := m.p()
	p.mu.Lock()
	p.chState = err
	p.mu.Unlock()
	if err == nil {
		return
	}
	tables := sinkTables[group]
	if len(tables) == 0 {
		return
	}
	table := tables[0]
	for _, t := range tables {
		if strings.Contains(err.Error(), "into "+t) {
			table = t
		}
	}
	p.chErrors.WithLabelValues(table).Inc()
	if ctx.Err() == nil {
		p.chRetries.WithLabelValues(table).Inc()
	}
}

// rowsCollector serves healthcode_clickhouse_rows_total from the atomic row
// counters of Metrics.
type rowsCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *rowsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rowsCollector) Collect(ch chan<- prometheus.Metric) {
	colours := float64(c.m.ColourRows.Load())
	for _, r := range []struct {
		table string
		n     float64
	}{{"events", float64(c.m.EventRows.Load())}, {"colour_changes", colours}, {"colours_current", colours},
		{"exposures", float64(c.m.ExposureRows.Load())}} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, r.n, r.table)
	}
}
