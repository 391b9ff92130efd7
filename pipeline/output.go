package pipeline

import (
	"context"
	"fmt"

	"healthcode/pipeline/kafka"
)

// output is one writer and the messages a batch produced for it.
type output struct {
	w    *kafka.Writer
	msgs []kafka.Message
}

// writeInOrder writes each output's messages, one writer after the other, and
// returns once all are acknowledged: only then may the input that produced
// them be committed.
func writeInOrder(ctx context.Context, outs ...output) error {
	for _, out := range outs {
		if len(out.msgs) == 0 {
			continue
		}
		if err := kafka.Write(ctx, out.w, out.msgs...); err != nil {
			return fmt.Errorf("write %s: %w", out.w.Topic, err)
		}
	}
	return nil
}
