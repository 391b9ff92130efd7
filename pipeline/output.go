package pipeline

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
)

// output is one writer and the messages a batch produced for it.
type output struct {
	w    *kafka.Writer
	msgs []kafka.Message
}

// writeInOrder writes each output's messages, one writer after the other, and
// returns once all are acknowledged: only then may the input that produced
// them be committed. Use it where a later output must never be visible
// without an earlier one (state after the updates it records).
func writeInOrder(ctx context.Context, outs ...output) error {
	for _, out := range outs {
		if err := writeOne(ctx, out); err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes every output at once and returns once all are
// acknowledged, or with the first error. The round trips to the brokers
// overlap, so a batch with several outputs costs about one round trip, not
// one per writer (each waits up to its writer's batch timeout).
func writeAll(ctx context.Context, outs ...output) error {
	n := 0
	for _, out := range outs {
		if len(out.msgs) > 0 {
			n++
		}
	}
	if n <= 1 {
		return writeInOrder(ctx, outs...)
	}
	var g errgroup.Group
	for _, out := range outs {
		if len(out.msgs) == 0 {
			continue
		}
		g.Go(func() error { return writeOne(ctx, out) })
	}
	return g.Wait()
}

func writeOne(ctx context.Context, out output) error {
	if len(out.msgs) == 0 {
		return nil
	}
	if err := kafka.Write(ctx, out.w, out.msgs...); err != nil {
		return fmt.Errorf("write %s: %w", out.w.Topic, err)
	}
	return nil
}
