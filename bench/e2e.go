package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/sync/errgroup"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
	"healthcode/sources/sim"
)

// benchPseudonymKey is the fixed development pseudonym key of the end-to-end
// and latency runs: every person in them is generated, nothing real.
const benchPseudonymKey = "healthcode-bench-development-pseudonym-key"

// e2eCeilingGroup is the consumer group of the ceiling run.
const e2eCeilingGroup = "hcbench-ceiling"

// EndToEnd measures the whole pipeline (ingest, score, trace, sink; event
// clock) over an embedded broker and ClickHouse, beside the ceiling measured
// in the same run on the same pre-loaded upstream topics: kafka-go consuming
// them and JSON-decoding each message, and nothing else. It also profiles the
// pipeline's CPU by stage (o.Out/e2e.cpu.pprof) and measures its RSS growth.
// It sets o.E2EDatabase to the database it filled, for BatchSQL.
func EndToEnd(ctx context.Context, o *Options, r *Report) error {
	o.SetDefaults()
	log := o.Logger.With(slog.String("section", "e2e"))

	emb, err := broker.Start(broker.Options{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	defer emb.Close()
	pol, err := policies.Load("domestic")
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	chOpts := o.ClickHouse
	chOpts.Database = o.ClickHouse.Database + "_e2e"
	if err := clickhouse.DropDatabase(ctx, chOpts); err != nil {
		return fmt.Errorf("e2e: reset database: %w", err)
	}
	o.E2EDatabase = chOpts.Database

	popts := pipeline.Options{
		Kafka:      kafka.Config{Brokers: emb.Addrs(), Logger: o.Logger},
		Policy:     pol,
		ClickHouse: chOpts,
		Clock:      pipeline.ClockEvent,
		Logger:     o.Logger,
	}
	popts.Decoder.Key = []byte(benchPseudonymKey)
	p, err := pipeline.New(popts)
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := p.EnsureTopics(ctx); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	kc, topics := p.Kafka(), p.Options().Topics.Sources

	// Load the whole province into the upstream topics first, so that the
	// ceiling and the pipeline read the same bytes.
	log.Info("simulating and producing", slog.Int("people", o.E2EPeople), slog.Int("days", o.E2EDays))
	start := time.Now()
	prod := pipeline.NewUpstreamProducer(kc, topics)
	sum, err := sim.Run(ctx, sim.Config{People: o.E2EPeople, Days: o.E2EDays, Seed: 1, Policy: pol},
		func(m sim.Message) error { return prod.Add(ctx, m.Stream, m.Key, m.Value) })
	if cerr := prod.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("e2e: simulate: %w", err)
	}
	n := prod.Sent()
	produceTook := time.Since(start)
	log.Info("produced", slog.Int64("messages", n), slog.Duration("took", produceTook))

	srcTopics := make([]string, 0, len(topics))
	for _, t := range topics {
		srcTopics = append(srcTopics, t)
	}
	ceil, err := measureCeiling(ctx, kc, srcTopics, n)
	if err != nil {
		return fmt.Errorf("e2e: ceiling: %w", err)
	}
	ceilingRate := float64(n) / ceil.took.Seconds()
	log.Info("ceiling", slog.Duration("took", ceil.took), slog.Float64("events_per_sec", ceilingRate))

	run, err := runE2EPipeline(ctx, o, p, n, log)
	if err != nil {
		return err
	}
	e2eRate := float64(n) / run.took.Seconds()
	m := p.Metrics()
	log.Info("pipeline drained", slog.Duration("took", run.took), slog.Float64("events_per_sec", e2eRate))

	ratio := e2eRate / ceilingRate
	perMillion := float64(run.peakRSS-run.baseRSS) / (float64(o.E2EPeople) / 1e6)
	r.Add(
		Figure{Key: "ceiling_events_per_sec", Value: ceilingRate, Unit: "events/s",
			Baseline: "producing the same messages (simulator + kafka-go writer, lz4, acks=all)", BaselineValue: float64(n) / produceTook.Seconds(),
			Note: fmt.Sprintf("kafka-go group reader over the %d src.* topics (kafka.Client.NewGroupReader, kafka.FetchBatch), each value "+
				"json.Unmarshal'ed into a struct of the common fields on %d goroutines, nothing else; %d messages in %.2fs "+
				"from creating the reader (first message after %.0f ms: the group join) to the last message decoded",
				len(srcTopics), runtime.GOMAXPROCS(0), n, ceil.took.Seconds(), ms(ceil.first))},
		Figure{Key: "e2e_events_per_sec", Value: e2eRate, Unit: "events/s",
			Baseline: "ceiling: kafka-go consume + JSON decode of the same topics", BaselineValue: ceilingRate,
			Goal: ">= 0.5 × ceiling",
			Note: fmt.Sprintf("%d upstream messages (%d people, %d day(s) simulated, produced beforehand) through ingest, score, "+
				"trace and sink (event clock, %d partitions, embedded broker, ClickHouse database %s) in %.2fs, "+
				"from starting the stages until every consumer group had committed all its input (WaitDrained, 100 ms polls once ingest had counted them all in)",
				n, o.E2EPeople, o.E2EDays, p.Options().Partitions, chOpts.Database, run.took.Seconds())},
		Figure{Key: "e2e_ratio", Value: ratio, Unit: "× ceiling", Baseline: "the ceiling itself", BaselineValue: 1,
			Goal: ">= 0.5", Note: "e2e_events_per_sec / ceiling_events_per_sec, both measured in this run"},
		Figure{Key: "rss_bytes_per_million_people_embedded", Value: perMillion, Unit: "bytes",
			Baseline: "process RSS before the pipeline started (broker holding the produced topics)", BaselineValue: float64(run.baseRSS),
			Note: fmt.Sprintf("(peak VmRSS during the run − VmRSS before it, after a GC) / %.3g million people: %s − %s; "+
				"includes the embedded broker's growth (the internal topics the pipeline writes)",
				float64(o.E2EPeople)/1e6, mib(run.peakRSS), mib(run.baseRSS))},
		Figure{Key: "e2e_upstream_messages", Value: float64(n), Unit: "messages",
			Note: fmt.Sprintf("simulated: %d people, %d venues, %d infected; produced in %.2fs", sum.People, sum.Venues, sum.Infected, produceTook.Seconds())},
		Figure{Key: "e2e_colour_updates", Value: float64(m.Updates.Load()), Unit: "updates",
			Note: fmt.Sprintf("written to hc.colour-updates; also %d person events, %d presences, %d exposures, %d dead letters, "+
				"ClickHouse rows: %d events, %d colour changes, %d exposures",
				m.PersonEvents.Load(), m.Presences.Load(), m.Exposures.Load(), m.DeadLetters.Load(),
				m.EventRows.Load(), m.ColourRows.Load(), m.ExposureRows.Load())},
		Figure{Key: "e2e_seconds", Value: run.took.Seconds(), Unit: "s", Baseline: "ceiling run", BaselineValue: ceil.took.Seconds()},
	)
	if run.profile != "" {
		reportProfile(r, "e2e", run.profile, log)
	}
	return nil
}

// ceilingResult is one ceiling run.
type ceilingResult struct {
	took  time.Duration // from creating the reader to the last message decoded
	first time.Duration // from creating the reader to the first message
}

// ceilingMessage holds the common fields of every upstream message: the
// ceiling decodes into it.
type ceilingMessage struct {
	EventID    string `json:"event_id"`
	Source     string `json:"source"`
	OccurredAt string `json:"occurred_at"`
	Person     *struct {
		IDType      string `json:"id_type"`
		IDNumber    string `json:"id_number"`
		Nationality string `json:"nationality"`
	} `json:"person"`
}

// measureCeiling consumes want messages of topics with a fresh consumer group
// and JSON-decodes each, on as many goroutines as there are CPUs.
func measureCeiling(ctx context.Context, kc *kafka.Client, topics []string, want int64) (ceilingResult, error) {
	var res ceilingResult
	start := time.Now()
	rd := kc.NewGroupReader(ctx, e2eCeilingGroup, topics...)
	defer rd.Close()
	batches := make(chan []kafka.Message, 4)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		var got int64
		for got < want {
			msgs, err := kafka.FetchBatch(gctx, rd, 10000, 5*time.Millisecond, nil)
			if err != nil {
				return err
			}
			if got == 0 {
				res.first = time.Since(start)
			}
			got += int64(len(msgs))
			select {
			case batches <- msgs:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var decoded atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for b := range batches {
				for i := range b {
					var v ceilingMessage
					if err := json.Unmarshal(b[i].Value, &v); err != nil {
						return fmt.Errorf("decode %s/%d@%d: %w", b[i].Topic, b[i].Partition, b[i].Offset, err)
					}
				}
				decoded.Add(int64(len(b)))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.took = time.Since(start)
	if got := decoded.Load(); got < want {
		return res, fmt.Errorf("decoded %d of %d messages", got, want)
	}
	return res, nil
}

// e2eRun is the outcome of the timed pipeline run.
type e2eRun struct {
	took    time.Duration
	baseRSS int64  // VmRSS before the pipeline started
	peakRSS int64  // highest VmRSS sampled while it ran
	profile string // CPU profile file, "" if profiling failed
}

// runE2EPipeline runs p until it has drained (want upstream messages in),
// under a CPU profile and an RSS sampler, and stops it.
func runE2EPipeline(ctx context.Context, o *Options, p *pipeline.Pipeline, want int64, log *slog.Logger) (e2eRun, error) {
	var run e2eRun
	runtime.GC()
	debug.FreeOSMemory()
	base, err := vmRSS()
	if err != nil {
		return run, fmt.Errorf("e2e: %w", err)
	}
	run.baseRSS = base

	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return run, fmt.Errorf("e2e: %w", err)
	}
	profPath := filepath.Join(o.Out, "e2e.cpu.pprof")
	prof, err := os.Create(profPath)
	if err != nil {
		return run, fmt.Errorf("e2e: cpu profile: %w", err)
	}
	defer prof.Close()
	profiling := pprof.StartCPUProfile(prof) == nil
	if !profiling {
		log.Warn("cpu profile unavailable (another profile is running?)")
	}
	stopProfile := func() {
		if profiling {
			pprof.StopCPUProfile()
			profiling = false
			run.profile = profPath
		}
	}
	defer stopProfile()

	sampler := newRSSSampler(200 * time.Millisecond)
	defer sampler.stop()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()

	// The run ends at the first of the two consecutive zero-lag polls that
	// WaitDrained needs. Measuring lag costs the broker a few dozen admin
	// requests, so polling starts only once ingest has counted every
	// upstream message in (an in-process counter).
	var firstZero time.Time
	drained := make(chan error, 1)
	go func() {
		for p.Metrics().UpstreamIn.Load() < want {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-runCtx.Done():
				drained <- runCtx.Err()
				return
			}
		}
		drained <- p.WaitDrained(runCtx, 100*time.Millisecond, func(l pipeline.Lag) {
			log.Debug("lag", slog.Int64("total", l.Total()), slog.Any("groups", l.ByGroup()))
			switch {
			case l.Total() != 0:
				firstZero = time.Time{}
			case firstZero.IsZero():
				firstZero = time.Now()
			}
		})
	}()
	select {
	case err := <-drained:
		if err != nil {
			return run, fmt.Errorf("e2e: wait drained: %w", err)
		}
	case err := <-runErr:
		return run, fmt.Errorf("e2e: pipeline stopped before draining: %w", err)
	}
	run.took = firstZero.Sub(start)
	stopProfile()
	run.peakRSS = max(sampler.stop(), base)
	stop()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		return run, fmt.Errorf("e2e: pipeline: %w", err)
	}
	return run, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// vmRSS returns the process's resident set size, from /proc/self/status.
func vmRSS() (int64, error) { return procStatusBytes(os.Getpid(), "VmRSS") }

// rssSampler records the highest VmRSS seen, sampling every period until
// stopped.
type rssSampler struct {
	peak atomic.Int64
	done chan struct{}
	quit chan struct{}
	once sync.Once // closes quit
}

func newRSSSampler(period time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if v, err := vmRSS(); err == nil && v > s.peak.Load() {
				s.peak.Store(v)
			}
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// stop ends the sampling (after one last sample) and returns the peak. It
// may be called more than once.
func (s *rssSampler) stop() int64 {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	if v, err := vmRSS(); err == nil && v > s.peak.Load() {
		s.peak.Store(v)
	}
	return s.peak.Load()
}

// stageCPU sums the CPU samples of a profile by the pipeline's stage label
// (pipeline.ProfileLabel, set by each stage with pprof.Do). Samples without
// the label ran outside every stage's goroutines (the embedded broker,
// kafka-go's background goroutines, the runtime) and are grouped by the
// package of their innermost frame that belongs to one of those; the rest is
// "other".
type stageCPU struct {
	stages    map[string]time.Duration // by stage label
	unlabeled map[string]time.Duration // by unlabelledGroups name, or "other"
	total     time.Duration
	top       []funcCPU // functions by flat CPU, most first
}

// funcCPU is one function's CPU in a profile.
type funcCPU struct {
	name      string
	flat, cum time.Duration
}

// unlabelledGroups name what ran the samples without a stage label, by a
// package path prefix of a frame in the stack.
var unlabelledGroups = []struct{ name, prefix string }{
	{"broker (kfake)", "github.com/twmb/franz-go/pkg/kfake"},
	{"kafka-go background", "github.com/segmentio/kafka-go"},
	{"gc", "runtime.gcBgMarkWorker"},
	{"gc", "runtime.bgsweep"},
	{"gc", "runtime.bgscavenge"},
}

// readStageCPU reads a CPU profile with github.com/google/pprof/profile and
// attributes its samples.
func readStageCPU(path string) (stageCPU, error) {
	sc := stageCPU{stages: map[string]time.Duration{}, unlabeled: map[string]time.Duration{}}
	f, err := os.Open(path)
	if err != nil {
		return sc, fmt.Errorf("cpu profile: %w", err)
	}
	defer f.Close()
	prof, err := profile.Parse(f)
	if err != nil {
		return sc, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	vi := -1 // index of the cpu nanoseconds value
	for i, st := range prof.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			vi = i
		}
	}
	if vi < 0 {
		return sc, fmt.Errorf("cpu profile %s: no cpu/nanoseconds sample type", path)
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	for _, smp := range prof.Sample {
		d := time.Duration(smp.Value[vi])
		sc.total += d
		addByFunction(flat, cum, smp, smp.Value[vi])
		if stage := smp.Label[pipeline.ProfileLabel]; len(stage) > 0 {
			sc.stages[stage[0]] += d
			continue
		}
		sc.unlabeled[unlabelledGroup(smp)] += d
	}
	for name, d := range flat {
		sc.top = append(sc.top, funcCPU{name: name, flat: time.Duration(d), cum: time.Duration(cum[name])})
	}
	slices.SortFunc(sc.top, func(a, b funcCPU) int {
		if a.flat != b.flat {
			return cmp.Compare(b.flat, a.flat)
		}
		return strings.Compare(a.name, b.name)
	})
	return sc, nil
}

// unlabelledGroup names the group of an unlabelled sample: the first of
// unlabelledGroups one of whose prefixes starts a function of the stack.
func unlabelledGroup(smp *profile.Sample) string {
	for _, g := range unlabelledGroups {
		for _, loc := range smp.Location {
			for _, line := range loc.Line {
				if line.Function != nil && strings.HasPrefix(line.Function.Name, g.prefix) {
					return g.name
				}
			}
		}
	}
	return "other"
}

// reportProfile adds the CPU per stage (figures <section>_cpu_share_<stage>)
// and the top of the profile to r.
func reportProfile(r *Report, section, path string, log *slog.Logger) {
	sc, err := readStageCPU(path)
	if err != nil {
		log.Warn("cpu profile", slog.Any("err", err))
		r.Note("%s CPU profile %s: %v", section, path, err)
		return
	}
	if sc.total <= 0 {
		r.Note("%s CPU profile %s holds no samples", section, path)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s CPU by stage (%s of samples; a sample counts for the stage whose pprof label %q it carries): ",
		section, sc.total.Round(10*time.Millisecond), pipeline.ProfileLabel)
	share := func(d time.Duration) float64 { return 100 * d.Seconds() / sc.total.Seconds() }
	for i, stage := range pipeline.AllStages {
		d := sc.stages[stage]
		r.Add(Figure{Key: section + "_cpu_share_" + stage, Value: share(d), Unit: "% of CPU samples",
			Note: "share of the " + section + " run's CPU profile samples labelled " + pipeline.ProfileLabel + "=" + stage})
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s (%.1f%%)", stage, d.Round(10*time.Millisecond), share(d))
	}
	var names []string
	for name := range sc.unlabeled {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d := sc.unlabeled[name]
		fmt.Fprintf(&b, ", unlabelled %s %s (%.1f%%)", name, d.Round(10*time.Millisecond), share(d))
	}
	r.Note("%s", b.String())
	var top strings.Builder
	fmt.Fprintf(&top, "%10s %6s %10s %6s  %s\n", "flat", "flat%", "cum", "cum%", "function")
	for _, fc := range sc.top[:min(25, len(sc.top))] {
		fmt.Fprintf(&top, "%10s %5.1f%% %10s %5.1f%%  %s\n", fc.flat.Round(time.Millisecond), share(fc.flat),
			fc.cum.Round(time.Millisecond), share(fc.cum), fc.name)
	}
	r.Note("%s CPU profile (%s), top 25 functions by flat CPU:\n\n```\n%s```\n", section, path, top.String())
}
