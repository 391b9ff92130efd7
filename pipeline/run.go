package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"
)

// Pipeline runs the chosen stages in one process. Each stage is a Kafka
// consumer group, so the same stages started in more processes share the work.
type Pipeline struct {
	o Options
}

// New validates o and returns a pipeline ready to Run.
func New(o Options) (*Pipeline, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Pipeline{o: o}, nil
}

// Options returns the effective options (defaults filled in).
func (p *Pipeline) Options() *Options { return &p.o }

// Metrics returns the pipeline's counters.
func (p *Pipeline) Metrics() *Metrics { return p.o.Metrics }

// EnsureTopics creates every topic the pipeline uses, if missing.
func (p *Pipeline) EnsureTopics(ctx context.Context) error {
	t := &p.o.Topics
	n := p.o.Partitions
	specs := []TopicSpec{
		{Name: t.PersonEvents, Partitions: n},
		{Name: t.AreaRisk, Partitions: 1, Compacted: true},
		{Name: t.ColourUpdates, Partitions: n},
		{Name: t.DeadLetter, Partitions: 1},
		{Name: t.State, Partitions: n, Compacted: true},
		{Name: t.Presence, Partitions: n},
		{Name: t.Exposures, Partitions: n},
	}
	for _, name := range t.Sources {
		specs = append(specs, TopicSpec{Name: name, Partitions: n})
	}
	if err := EnsureTopics(ctx, p.o.Kafka.Brokers, specs...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	// Scoring state is partitioned like its input: a changelog partition must
	// belong to the person-events partition of the same number.
	for _, topic := range []string{t.PersonEvents, t.State} {
		got, err := PartitionCount(ctx, p.o.Kafka.Brokers, topic)
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("topic %s has %d partitions, --partitions says %d: they must agree", topic, got, n)
		}
	}
	return nil
}

// Run runs the stages until ctx is done or one fails. On cancellation each
// stage finishes the batch in hand (its effects acknowledged, offsets
// committed) before returning.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.EnsureTopics(ctx); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, stage := range p.o.Stages {
		log := p.o.Logger.With(slog.String("stage", stage))
		switch stage {
		case StageIngest:
			in, err := newIngest(&p.o)
			if err != nil {
				return err
			}
			g.Go(func() error { return wrapStage(stage, in.run(ctx)) })
		case StageScore:
			s := newScore(&p.o)
			g.Go(func() error { return wrapStage(stage, s.run(ctx)) })
		case StageTrace:
			s := newTrace(&p.o)
			g.Go(func() error { return wrapStage(stage, s.run(ctx)) })
		case StageSink:
			s, err := newSink(ctx, &p.o)
			if err != nil {
				return err
			}
			g.Go(func() error { return wrapStage(stage, s.run(ctx)) })
		}
		log.Info("stage started")
	}
	return g.Wait()
}

func wrapStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("stage %s: %w", stage, err)
}
