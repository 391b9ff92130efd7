package chaos

import (
	"context"
	"fmt"
	"sync"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// feeder writes the simulated province into the upstream topics, as
// `healthcode simulate` does, through a gate: it writes up to the allowance
// the harness gives it and waits there, so that input arrives in steps at the
// faults, and it can be paused while the broker restarts (the input stays the
// same: no retried, duplicated writes). Everything below the allowance is
// written and acknowledged before it waits.
type feeder struct {
	mu      sync.Mutex
	cond    *sync.Cond
	allowed int64 // messages that may be written; -1: all
	paused  bool
	written int64 // acknowledged
	added   int64 // handed to the producer

	done chan struct{}
	sum  sim.Summary
	err  error
}

// startFeeder starts the simulator; allowed is the first allowance (-1: all).
func startFeeder(ctx context.Context, kc *kafka.Client, topics map[sources.Stream]string, cfg sim.Config, allowed int64) *feeder {
	f := &feeder{allowed: allowed, done: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	prod := pipeline.NewUpstreamProducer(kc, topics)
	go func() {
		defer close(f.done)
		sum, err := sim.Run(ctx, cfg, func(m sim.Message) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for f.paused || (f.allowed >= 0 && f.added >= f.allowed) {
				if !f.paused && prod.Sent() < f.added {
					if err := prod.Flush(ctx); err != nil {
						return err
					}
					f.written = prod.Sent()
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				f.cond.Wait()
			}
			if err := prod.Add(ctx, m.Stream, m.Key, m.Value); err != nil {
				return err
			}
			f.added++
			f.written = prod.Sent()
			return nil
		})
		f.mu.Lock()
		if cerr := prod.Close(ctx); err == nil {
			err = cerr
		}
		f.written = prod.Sent()
		f.sum, f.err = sum, err
		f.mu.Unlock()
	}()
	// Wake a waiting feeder when ctx ends.
	go func() {
		select {
		case <-ctx.Done():
			f.mu.Lock()
			f.cond.Broadcast()
			f.mu.Unlock()
		case <-f.done:
		}
	}()
	return f
}

// allow raises the allowance to n messages (-1: all).
func (f *feeder) allow(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 0 || (f.allowed >= 0 && n > f.allowed) {
		f.allowed = n
	}
	f.cond.Broadcast()
}

// reached reports whether everything allowed so far is written and
// acknowledged (or the simulator has ended).
func (f *feeder) reached() bool {
	if done, _ := f.finished(); done {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allowed >= 0 && f.written >= f.allowed
}

// countMessages runs the simulator without Kafka and counts its messages, so
// the input can be cut into equal steps before it is written.
func countMessages(ctx context.Context, cfg sim.Config) (int64, error) {
	var n int64
	_, err := sim.Run(ctx, cfg, func(sim.Message) error { n++; return nil })
	return n, err
}

// pause returns once no write is in flight and none will start before resume.
func (f *feeder) pause() {
	f.mu.Lock()
	f.paused = true
	f.mu.Unlock()
}

func (f *feeder) resume() {
	f.mu.Lock()
	f.paused = false
	f.cond.Broadcast()
	f.mu.Unlock()
}

// finished reports whether the simulator has ended, and its error.
func (f *feeder) finished() (bool, error) {
	select {
	case <-f.done:
		return true, f.err
	default:
		return false, nil
	}
}

// wait waits for the simulator to end and every message to be acknowledged.
func (f *feeder) wait(ctx context.Context) (sim.Summary, int64, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return sim.Summary{}, 0, ctx.Err()
	}
	if f.err != nil {
		return f.sum, f.written, fmt.Errorf("feed: %w", f.err)
	}
	return f.sum, f.written, nil
}

// simConfig is `healthcode simulate`'s configuration for the harness's size.
func simConfig(o *Options, key []byte) (sim.Config, error) {
	pol, err := policies.Load("domestic")
	if err != nil {
		return sim.Config{}, err
	}
	return sim.Config{People: o.People, Days: o.Days, Seed: o.Seed, CheckinsPerDay: 2, Key: key, Policy: pol}, nil
}
