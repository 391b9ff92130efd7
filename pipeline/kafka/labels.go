package kafka

import (
	"context"
	"runtime/pprof"
)

// Profiler labels: a caller may run its work under pprof.Do (a stage label,
// say), and a goroutine inherits the labels of the goroutine that starts it.
// kafka-go starts its background goroutines (fetchers, batch writers,
// connection pools, group heartbeats) lazily, from inside calls such as
// FetchMessage and WriteMessages, so the toolkit makes those calls without
// labels and restores the caller's (carried by ctx) afterwards: the caller's
// CPU is labelled, kafka-go's own is not.

// unlabelled runs fn with the calling goroutine's profiler labels cleared,
// then sets them back to those of ctx.
func unlabelled(ctx context.Context, fn func()) {
	pprof.SetGoroutineLabels(context.Background())
	defer pprof.SetGoroutineLabels(ctx)
	fn()
}

// Write writes msgs with w and waits for their acknowledgement, as
// w.WriteMessages does, without passing the caller's profiler labels on to
// the goroutines the writer starts.
func Write(ctx context.Context, w *Writer, msgs ...Message) error {
	var err error
	unlabelled(ctx, func() { err = w.WriteMessages(ctx, msgs...) })
	return err
}

// fetch is r.FetchMessage without passing the caller's profiler labels on to
// the goroutines the reader starts.
func fetch(ctx context.Context, r Fetcher) (Message, error) {
	var m Message
	var err error
	unlabelled(ctx, func() { m, err = r.FetchMessage(ctx) })
	return m, err
}
