package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"healthcode/pipeline/kafka"
)

// Lag is, per consumer group of the pipeline and per partition of its input
// topics, how many messages are not yet committed: the figures behind
// healthcode_consumer_lag{group,topic,partition}.
type Lag []kafka.PartitionLag

// Total sums the lag of every group and partition.
func (l Lag) Total() int64 {
	var n int64
	for _, v := range l {
		n += v.Lag
	}
	return n
}

// ByGroup sums the lag per consumer group.
func (l Lag) ByGroup() map[string]int64 {
	out := map[string]int64{}
	for _, v := range l {
		out[v.Group] += v.Lag
	}
	return out
}

// Lag measures every running stage's consumer-group lag against the end of its
// input topics. The demo and the end-to-end tests use it to know when the
// pipeline has drained.
func (p *Pipeline) Lag(ctx context.Context) (Lag, error) {
	var out Lag
	for _, gt := range p.groups() {
		l, err := p.kc.Lag(ctx, gt.group, gt.topics...)
		if err != nil {
			return nil, fmt.Errorf("lag: %w", err)
		}
		out = append(out, l...)
	}
	return out, nil
}

// groupTopics is a consumer group of the pipeline and its input topics.
type groupTopics struct {
	group  string
	topics []string
}

// groups lists the consumer groups of the stages this process runs, in
// topology order.
func (p *Pipeline) groups() []groupTopics {
	t := &p.o.Topics
	var out []groupTopics
	if p.o.has(StageIngest) {
		out = append(out, groupTopics{p.o.group(StageIngest), slices.Sorted(maps.Values(t.Sources))})
	}
	if p.o.has(StageGuard) {
		out = append(out, groupTopics{p.o.group(StageGuard), []string{t.Overrides}})
	}
	if p.o.has(StageScore) {
		out = append(out, groupTopics{p.o.group(StageScore), []string{t.PersonEvents}})
	}
	if p.o.has(StageTrace) {
		out = append(out, groupTopics{p.o.group(StageTrace), []string{t.Presence}})
	}
	if p.o.has(StageSink) {
		out = append(out,
			groupTopics{p.o.group(StageSink + "-events"), []string{t.PersonEvents}},
			groupTopics{p.o.group(StageSink + "-colours"), []string{t.ColourUpdates}},
			groupTopics{p.o.group(StageSink + "-exposures"), []string{t.Exposures}},
			groupTopics{p.o.group(StageSink + "-journeys"), []string{t.Journeys}},
			groupTopics{p.o.group(StageSink + "-overrides"), []string{t.OverrideAudit}})
	}
	return out
}

// WaitDrained blocks until every stage has committed all of its input, seen
// twice in a row poll apart (a stage may still be writing what it consumed),
// or ctx ends. A lag query that fails (a loaded broker may time one out) is
// asked again at the next poll; if ctx ends meanwhile, the error says so.
func (p *Pipeline) WaitDrained(ctx context.Context, poll time.Duration, progress func(Lag)) error {
	zero := 0
	var lastErr error // the last failed lag query: a loaded broker may time one out
	for {
		lag, err := p.Lag(ctx)
		switch {
		case err != nil:
			// Ask again at the next poll; a lag query that keeps failing
			// is what the caller hears about when ctx ends.
			lastErr, zero = err, 0
		case lag.Total() == 0:
			lastErr = nil
			zero++
			if zero >= 2 {
				return nil
			}
		default:
			lastErr, zero = nil, 0
		}
		if err == nil && progress != nil {
			progress(lag)
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w (last lag query: %v)", ctx.Err(), lastErr)
			}
			return ctx.Err()
		}
	}
}
