package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
)

// Pipeline runs the chosen stages in one process. Each stage is a Kafka
// consumer group, so the same stages started in more processes share the work.
type Pipeline struct {
	o  Options
	kc *kafka.Client
}

// New validates o and returns a pipeline ready to Run.
func New(o Options) (*Pipeline, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	kc, err := kafka.New(o.Kafka)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	o.Kafka = kc.Config()
	if o.ShutdownTimeout >= o.Kafka.RebalanceTimeout {
		return nil, fmt.Errorf("pipeline: shutdown timeout %v must be below the Kafka rebalance timeout %v: a member finishing its batches would be dropped from its group", o.ShutdownTimeout, o.Kafka.RebalanceTimeout)
	}
	o.Metrics.zeroSeries(&o)
	return &Pipeline{o: o, kc: kc}, nil
}

// Options returns the effective options (defaults filled in).
func (p *Pipeline) Options() *Options { return &p.o }

// Kafka returns the Kafka client builder every stage uses.
func (p *Pipeline) Kafka() *kafka.Client { return p.kc }

// Metrics returns the pipeline's counters.
func (p *Pipeline) Metrics() *Metrics { return p.o.Metrics }

// EnsureTopics creates every topic the pipeline uses, if missing.
func (p *Pipeline) EnsureTopics(ctx context.Context) error {
	t := &p.o.Topics
	n := p.o.Partitions
	specs := []kafka.TopicSpec{
		{Name: t.PersonEvents, Partitions: n},
		{Name: t.AreaRisk, Partitions: 1, Compacted: true},
		{Name: t.ColourUpdates, Partitions: n},
		// Raw upstream input, personal data: kept briefly (docs/operations.md).
		{Name: t.DeadLetter, Partitions: 1, Retention: p.o.DeadLetterRetention},
		{Name: t.State, Partitions: n, Compacted: true},
		// The tracer rebuilds its index by replaying hc.presence: keep the
		// look-back, and a day more for late presences.
		{Name: t.Presence, Partitions: n, Retention: p.o.Policy.Contacts.Lookback.Std() + 24*time.Hour},
		{Name: t.Exposures, Partitions: n},
		{Name: t.Journeys, Partitions: n},
		{Name: t.Policy, Partitions: 1, Compacted: true},
		// The override guard counts every officer's overrides globally: one
		// partition (docs/overrides.md). It restores from its own audit, kept
		// past the longest window and override.
		{Name: t.Overrides, Partitions: 1},
		{Name: t.OverrideAudit, Partitions: 1, Retention: overrideAuditRetention(p.o.Policy)},
	}
	for _, name := range t.Sources {
		specs = append(specs, kafka.TopicSpec{Name: name, Partitions: n})
	}
	if err := p.kc.EnsureTopics(ctx, specs...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	// Scoring state is partitioned like its input: a changelog partition must
	// belong to the person-events partition of the same number.
	for _, topic := range []string{t.PersonEvents, t.State} {
		got, err := p.kc.PartitionCount(ctx, topic)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("topic %s has %d partitions, --partitions says %d: they must agree", topic, got, n)
		}
	}
	return nil
}

// Run runs the stages until ctx is done or one fails; the first failure
// cancels the others, and Run returns it once every stage has returned. On
// cancellation a stage stops fetching and finishes the batch in hand within
// Options.ShutdownTimeout (written, acknowledged, committed), then leaves its
// consumer groups; past the deadline the batch is dropped uncommitted and
// delivered again to whoever consumes its partition next (effects are
// idempotent, so nothing is lost or doubled). See shutdown.go.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.EnsureTopics(ctx); err != nil {
		return err
	}
	// Build every stage before starting any, so a stage that cannot be built
	// leaves nothing running behind the error.
	// One policy hub per process: every stage that reads a policy parameter
	// follows hc.policy through it.
	hub := newPolicyHub(p.o.Policy, p.kc.NewWriter(p.o.Topics.DeadLetter, &kafka.Hash{}))
	runs := make([]func(context.Context) error, len(p.o.Stages))
	for i, stage := range p.o.Stages {
		switch stage {
		case StageIngest:
			in, err := newIngest(&p.o, p.kc, hub)
			if err != nil {
				hub.dead.Close()
				return err
			}
			runs[i] = in.run
		case StageScore:
			runs[i] = newScore(&p.o, p.kc, hub).run
		case StageTrace:
			runs[i] = newTrace(&p.o, p.kc, hub).run
		case StageSink:
			runs[i] = newSink(&p.o, p.kc).run
		case StageGuard:
			runs[i] = newGuard(&p.o, p.kc).run
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	if p.o.has(StageIngest) || p.o.has(StageScore) || p.o.has(StageTrace) {
		g.Go(func() error {
			defer hub.dead.Close()
			return hub.run(ctx, &p.o, p.kc)
		})
	} else {
		hub.dead.Close()
	}
	for i, stage := range p.o.Stages {
		g.Go(func() error {
			// The stage's goroutines, and those they start, carry the label
			// stage=<name> in CPU profiles (kafka-go's own goroutines do not:
			// the toolkit starts them unlabelled).
			var err error
			pprof.Do(ctx, pprof.Labels(ProfileLabel, stage), func(ctx context.Context) { err = runs[i](ctx) })
			return wrapStage(stage, err)
		})
		p.o.Logger.Info("stage started", slog.String("stage", stage))
	}
	return g.Wait()
}

// ProfileLabel is the pprof label key whose value names the stage
// (StageIngest, StageScore, ...) that ran a CPU profile sample.
const ProfileLabel = "stage"

func wrapStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("stage %s: %w", stage, err)
}
