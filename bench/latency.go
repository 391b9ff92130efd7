package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
)

// Latency topics and timing.
const (
	latencyRoundTripTopic = "hcbench.roundtrip" // the baseline's plain topic
	latencyTick           = 10 * time.Millisecond
	latencyWarmup         = 2 * time.Second // warm-up at the offered rate, before each measurement
	latencyGrace          = 30 * time.Second
)

// Latency measures, at a fixed offered rate, the time from producing an
// upstream check-in to its colour update's arrival on hc.colour-updates,
// through every stage in wall-clock mode over a fresh embedded broker. Each
// check-in is of a new person, so it yields exactly one colour update (the
// first), found by its person key. The baseline, measured on the same broker
// before the pipeline starts, is the broker round trip of the same messages:
// produced to a plain topic and read back, at the same rate.
func Latency(ctx context.Context, o *Options, r *Report) error {
	o.SetDefaults()
	log := o.Logger.With(slog.String("section", "latency"))
	rate, dur := o.LatencyRate, o.LatencyDuration
	measured := max(1, int(float64(rate)*dur.Seconds()))
	warm := max(1, int(float64(rate)*latencyWarmup.Seconds()))
	if o.Quick {
		warm = max(1, rate/4)
	}

	key := []byte(benchPseudonymKey)
	log.Info("generating people", slog.Int("count", warm+measured))
	people := newLatencyPeople(key, warm+measured)

	emb, err := broker.Start(broker.Options{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	defer emb.Close()
	ko := kafka.Config{Brokers: emb.Addrs(), Logger: o.Logger}
	kc, err := kafka.New(ko)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}

	// Baseline: the same messages to a plain topic and back, before the
	// pipeline loads the broker.
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: latencyRoundTripTopic, Partitions: 8}); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	base := newLatencyProbe(people, warm, measured, rate)
	baseIndex := func(m *kafka.Message) int {
		i, err := strconv.Atoi(string(m.Key))
		if err != nil {
			return -1
		}
		return i
	}
	log.Info("baseline: broker round trip", slog.Int("rate", rate), slog.Duration("duration", dur))
	err = base.run(ctx, kc, map[sources.Stream]string{sources.StreamCheckins: latencyRoundTripTopic},
		latencyRoundTripTopic, baseIndex, func(context.Context) error { return nil })
	if err != nil {
		return fmt.Errorf("latency: baseline: %w", err)
	}

	// The pipeline.
	pol, err := policies.Load("domestic")
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	chOpts := o.ClickHouse
	chOpts.Database = o.ClickHouse.Database + "_latency"
	if err := clickhouse.DropDatabase(ctx, chOpts); err != nil {
		return fmt.Errorf("latency: reset database: %w", err)
	}
	popts := pipeline.Options{Kafka: ko, Policy: pol, ClickHouse: chOpts, Clock: pipeline.ClockWall, Logger: o.Logger}
	popts.Decoder.Key = key
	p, err := pipeline.New(popts)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := p.EnsureTopics(ctx); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()

	probe := newLatencyProbe(people, warm, measured, rate)
	pipeIndex := func(m *kafka.Message) int {
		var k scoring.PersonKey
		if hex.DecodedLen(len(m.Key)) != len(k) {
			return -1
		}
		if _, err := hex.Decode(k[:], m.Key); err != nil {
			return -1
		}
		i, ok := people.index[k]
		if !ok {
			return -1
		}
		return int(i)
	}
	settle := func(ctx context.Context) error {
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return p.WaitDrained(dctx, 100*time.Millisecond, nil)
	}
	log.Info("pipeline: produce → colour update", slog.Int("rate", rate), slog.Duration("duration", dur))
	profPath := filepath.Join(o.Out, "latency.cpu.pprof")
	stopProfile, perr := startCPUProfile(profPath)
	if perr != nil {
		log.Warn("cpu profile unavailable", slog.Any("err", perr))
	}
	probeErr := make(chan error, 1)
	go func() {
		probeErr <- probe.run(runCtx, p.Kafka(), p.Options().Topics.Sources, p.Options().Topics.ColourUpdates, pipeIndex, settle)
	}()
	select {
	case err = <-probeErr:
	case err = <-runErr:
		err = fmt.Errorf("pipeline stopped: %w", err)
	}
	stopProfile()
	stop()
	if perr := <-runErr; err == nil && perr != nil && !errors.Is(perr, context.Canceled) {
		err = fmt.Errorf("pipeline: %w", perr)
	}
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}

	bs, ps := base.stats(), probe.stats()
	log.Info("latency", slog.Float64("p50_ms", ps.p50), slog.Float64("p99_ms", ps.p99),
		slog.Float64("baseline_p50_ms", bs.p50), slog.Float64("baseline_p99_ms", bs.p99))
	how := fmt.Sprintf("%d check-ins of new people offered at %d/s for %s (in batches every %s, after a %d-event warm-up), "+
		"stages ingest, score, trace and sink (wall clock, %d partitions), arrival = a reader of every partition of "+
		"hc.colour-updates in the same process; %d of %d arrived within %s of the end",
		measured, rate, dur, latencyTick, warm, p.Options().Partitions, ps.arrived, measured, latencyGrace)
	baseName := "kafka produce→consume round trip"
	r.Add(
		Figure{Key: "latency_p50_ms", Value: ps.p50, Unit: "ms", Baseline: baseName + " p50", BaselineValue: bs.p50, Goal: "<= 50", Note: how},
		Figure{Key: "latency_p99_ms", Value: ps.p99, Unit: "ms", Baseline: baseName + " p99", BaselineValue: bs.p99, Goal: "<= 250",
			Note: "the same run as latency_p50_ms; the baseline produces the same messages to a plain 8-partition topic " +
				"with the same producer and pacing, and reads them back with the same per-partition readers"},
		Figure{Key: "latency_max_ms", Value: ps.max, Unit: "ms", Baseline: baseName + " max", BaselineValue: bs.max},
		Figure{Key: "latency_offered_events_per_sec", Value: ps.offered, Unit: "events/s",
			Baseline: "baseline run's achieved offered rate", BaselineValue: bs.offered, Goal: fmt.Sprintf("= %d", rate),
			Note: "events offered / time from the first batch to the last; each batch is one synchronous produce"},
	)
	if perr == nil {
		reportProfile(r, "latency", profPath, log)
	}
	if ps.arrived < measured || bs.arrived < measured {
		r.Note("latency: %d of %d colour updates and %d of %d round-trip messages arrived within %s after the last was produced; "+
			"percentiles are over those that arrived", ps.arrived, measured, bs.arrived, measured, latencyGrace)
	}
	return nil
}

// latencyPeople are generated people (valid resident IDs from random digits,
// no two alike) and their person keys.
type latencyPeople struct {
	ids   []string
	index map[scoring.PersonKey]int32 // person key -> index into ids
}

func newLatencyPeople(key []byte, n int) *latencyPeople {
	rng := rand.New(rand.NewPCG(20, 20))
	regions := []string{"330102", "330105", "330106", "330108", "330109", "330110", "330203", "330205", "330302", "330402"}
	lp := &latencyPeople{ids: make([]string, 0, n), index: make(map[scoring.PersonKey]int32, n)}
	for len(lp.ids) < n {
		birth := time.Date(1940+rng.IntN(70), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		id := sources.GenerateResidentID(rng, regions[rng.IntN(len(regions))], birth)
		k := sources.PersonKey(key, "resident_id", id)
		if _, dup := lp.index[k]; dup {
			continue
		}
		lp.index[k] = int32(len(lp.ids))
		lp.ids = append(lp.ids, id)
	}
	return lp
}

// latencyProbe offers events 0..warm+measured-1 at rate and records when each
// was produced and when its answer arrived.
type latencyProbe struct {
	people         *latencyPeople
	warm, measured int
	rate           int
	sent           []int64        // UnixNano when offered; written by the producer only
	recv           []atomic.Int64 // UnixNano of the first arrival, 0 until then
	arrived        atomic.Int64   // measured events that arrived
	offered        time.Duration  // from the first measured batch to the last
}

func newLatencyProbe(people *latencyPeople, warm, measured, rate int) *latencyProbe {
	n := warm + measured
	return &latencyProbe{people: people, warm: warm, measured: measured, rate: rate,
		sent: make([]int64, n), recv: make([]atomic.Int64, n)}
}

// run starts readers on every partition of out, offers the warm-up, waits for
// its answers and then settle, offers the measured events, and waits for their
// answers (at most latencyGrace after the last). index maps an arriving
// message to its event, or -1.
func (lp *latencyProbe) run(ctx context.Context, kc *kafka.Client, topics map[sources.Stream]string, out string,
	index func(*kafka.Message) int, settle func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var warmArrived atomic.Int64
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	err := readPartitions(ctx, kc, out, &wg, readErr, func(m *kafka.Message, at int64) {
		i := index(m)
		if i < 0 || !lp.recv[i].CompareAndSwap(0, at) {
			return
		}
		if i < lp.warm {
			warmArrived.Add(1)
		} else {
			lp.arrived.Add(1)
		}
	})
	if err != nil {
		return err
	}
	prod := pipeline.NewUpstreamProducer(kc, topics)
	defer prod.Close(context.WithoutCancel(ctx))

	wait := func(what string, count *atomic.Int64, want int64, limit time.Duration) error {
		deadline := time.Now().Add(limit)
		for count.Load() < want && time.Now().Before(deadline) {
			select {
			case err := <-readErr:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		if what == "warm-up" && count.Load() < want {
			return fmt.Errorf("%s: %d of %d answers within %s", what, count.Load(), want, limit)
		}
		return nil
	}
	if _, err := lp.offer(ctx, prod, 0, lp.warm); err != nil {
		return err
	}
	if err := wait("warm-up", &warmArrived, int64(lp.warm), time.Minute); err != nil {
		return err
	}
	if err := settle(ctx); err != nil {
		return fmt.Errorf("settle after warm-up: %w", err)
	}
	took, err := lp.offer(ctx, prod, lp.warm, lp.warm+lp.measured)
	if err != nil {
		return err
	}
	lp.offered = took
	return wait("measurement", &lp.arrived, int64(lp.measured), latencyGrace)
}

// offer produces events [from, to) at lp.rate, in one batch every
// latencyTick, and returns the time from the first batch to the last.
func (lp *latencyProbe) offer(ctx context.Context, prod *pipeline.UpstreamProducer, from, to int) (time.Duration, error) {
	tick := time.NewTicker(latencyTick)
	defer tick.Stop()
	cst := time.FixedZone("CST", 8*3600)
	var buf []byte
	start := time.Now()
	var last time.Time
	for next := from; next < to; {
		now := time.Now()
		due := min(to, from+1+int(now.Sub(start).Seconds()*float64(lp.rate)))
		if due > next {
			at := now.In(cst).Format(time.RFC3339)
			for i := next; i < due; i++ {
				buf = appendLatencyCheckin(buf[:0], i, lp.people.ids[i], at)
				lp.sent[i] = now.UnixNano()
				if err := prod.Add(ctx, sources.StreamCheckins, strconv.AppendInt(nil, int64(i), 10), buf); err != nil {
					return 0, err
				}
			}
			if err := prod.Flush(ctx); err != nil {
				return 0, err
			}
			next, last = due, now
		}
		if next < to {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return last.Sub(start), nil
}

// appendLatencyCheckin appends the check-in of event i: person id at one of
// a thousand venues in Hangzhou, entering at.
func appendLatencyCheckin(dst []byte, i int, id, at string) []byte {
	v := i % 1000
	return fmt.Appendf(dst, `{"event_id":"hcbench-%d","source":"hcbench","occurred_at":%q,`+
		`"person":{"id_type":"resident_id","id_number":%q,"nationality":"CHN"},`+
		`"venue":{"id":"V330102%06d","name":"Bench venue %d","lat":%.4f,"lng":%.4f}}`,
		i, at, id, v, v, 30.20+float64(v%40)*0.004, 120.10+float64(v/40)*0.004)
}

// readPartitions starts one reader per partition of topic, from its first
// offset, calling got with each message and its arrival time (UnixNano). The
// readers stop when ctx ends; wg tracks them; the first read error goes to
// errs.
func readPartitions(ctx context.Context, kc *kafka.Client, topic string, wg *sync.WaitGroup, errs chan<- error,
	got func(m *kafka.Message, at int64)) error {
	n, err := kc.PartitionCount(ctx, topic)
	if err != nil {
		return err
	}
	for p := range n {
		rd := kc.NewPartitionReader(topic, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			for {
				m, err := rd.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						select {
						case errs <- fmt.Errorf("read %s/%d: %w", topic, p, err):
						default:
						}
					}
					return
				}
				got(&m, time.Now().UnixNano())
			}
		}()
	}
	return nil
}

// latencyStats are the measured events' latencies in milliseconds.
type latencyStats struct {
	p50, p99, max float64
	arrived       int
	offered       float64 // achieved offered rate, events/s
}

func (lp *latencyProbe) stats() latencyStats {
	lat := make([]float64, 0, lp.measured)
	for i := lp.warm; i < lp.warm+lp.measured; i++ {
		if at := lp.recv[i].Load(); at != 0 {
			lat = append(lat, float64(at-lp.sent[i])/1e6)
		}
	}
	slices.Sort(lat)
	s := latencyStats{p50: math.NaN(), p99: math.NaN(), max: math.NaN(), arrived: len(lat)}
	if len(lat) > 0 {
		s.p50, s.p99, s.max = quantileSorted(lat, 0.50), quantileSorted(lat, 0.99), lat[len(lat)-1]
	}
	if lp.offered > 0 {
		// The first batch (one event) goes at 0, the last at lp.offered.
		s.offered = float64(lp.measured-1) / lp.offered.Seconds()
	}
	return s
}

// quantileSorted returns the nearest-rank q-quantile of sorted values.
func quantileSorted(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
