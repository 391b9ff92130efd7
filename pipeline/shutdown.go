package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// A stage told to stop (its ctx done: a first SIGTERM, another stage's
// failure, or, for a partition handler, the end of its group generation)
// stops fetching, but finishes the batch in hand: it writes the batch's
// output, waits for the acknowledgements and commits its offsets, under a
// context that outlives ctx by Options.ShutdownTimeout. Past that deadline the
// batch is dropped uncommitted and logged; it is delivered again to whoever
// consumes the partition next, and its effects, some of which may already be
// written, absorb the repetition (docs/architecture.md, "What absorbs a
// duplicate").

// errShutdownTimeout is the cause of a finishing context that ran out.
var errShutdownTimeout = errors.New("shutdown timeout passed")

// finishing returns a context for the writes and commits of the batch in
// hand: it is not cancelled when ctx is, but d after ctx is done. Call the
// cancel function when the stage returns.
func finishing(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	fin, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var mu sync.Mutex // protects timer
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(d, func() { cancel(errShutdownTimeout) })
	})
	return fin, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

// droppedAtDeadline reports whether a write or commit under fin failed
// because the shutdown deadline passed, and if so logs that the batch in hand
// is dropped. A stage then returns nil: stopping late is not a failure.
func (o *Options) droppedAtDeadline(fin context.Context, stage string, partition int) bool {
	if !errors.Is(context.Cause(fin), errShutdownTimeout) {
		return false
	}
	o.Logger.Warn("shutdown timeout passed: the batch in hand is dropped uncommitted and will be delivered again",
		slog.String("stage", stage), slog.Int("partition", partition), slog.Duration("shutdown_timeout", o.ShutdownTimeout))
	return true
}
