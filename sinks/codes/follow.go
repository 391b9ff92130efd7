package codes

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
)

// This file is the only one that speaks Kafka: it follows every partition of
// a topic from its first offset, like a goka view, and tells when it has
// read up to the end offsets it found on start (the restore).

// follow reads every partition of topic from the start and calls apply for
// each message, until ctx ends. caughtUp is called once, when every
// partition has caught up with the end offset it had when follow started.
func follow(ctx context.Context, kc *kafka.Client, topic string, log *slog.Logger,
	apply func(*kafka.Message), caughtUp func()) error {
	var n int
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if n, err = kc.PartitionCount(ctx, topic); err == nil {
			break
		}
		log.Warn("codes: waiting for topic", slog.String("topic", topic), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	var pending atomic.Int32
	pending.Store(int32(n))
	done := func() {
		if pending.Add(-1) == 0 {
			caughtUp()
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	for p := 0; p < n; p++ {
		g.Go(func() error {
			err := kc.Follow(ctx, topic, p, done, func(m *kafka.Message) error {
				apply(m)
				return nil
			})
			if err != nil {
				return fmt.Errorf("codes: follow %s/%d: %w", topic, p, err)
			}
			return nil
		})
	}
	return g.Wait()
}
