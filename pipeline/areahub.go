package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// areaHub follows the compacted hc.area-risk topic (reference data every
// partition needs) and keeps every designation in arrival order. Partition
// goroutines apply the designations they have not seen yet between batches.
type areaHub struct {
	mu    sync.Mutex // protects list
	list  []scoring.Designation
	ready gate // opened once the topic has been read to its end at start, or the hub failed
}

func newAreaHub() *areaHub {
	return &areaHub{ready: newGate()}
}

// since returns the designations after the first n.
func (h *areaHub) since(n int) []scoring.Designation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.list[n:len(h.list):len(h.list)]
}

func (h *areaHub) add(ds []scoring.Designation) {
	if len(ds) == 0 {
		return
	}
	h.mu.Lock()
	h.list = append(h.list, ds...)
	h.mu.Unlock()
}

// run reads every partition of the topic from the start and follows it, one
// goroutine per partition under an errgroup: the first failure stops the
// others and is returned (and given to whoever waits for the hub to be
// ready). It returns nil when ctx is done.
func (h *areaHub) run(ctx context.Context, o *Options, kc *kafka.Client) error {
	topic := o.Topics.AreaRisk
	err := h.follow(ctx, o, kc, topic)
	if err != nil {
		err = fmt.Errorf("area hub: %w", err)
	}
	// A no-op if the hub was ready; otherwise partitions waiting for it
	// learn why it never will be.
	h.ready.open(fmt.Errorf("area hub stopped before loading %s: %v", topic, err))
	return err
}

func (h *areaHub) follow(ctx context.Context, o *Options, kc *kafka.Client, topic string) error {
	n, err := kc.PartitionCount(ctx, topic)
	if err != nil {
		return err
	}
	var pending atomic.Int64 // partitions not yet read to their end at start
	pending.Store(int64(n))
	if n == 0 {
		h.ready.open(nil)
	}
	caughtUp := func() {
		if pending.Add(-1) == 0 {
			h.ready.open(nil)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for p := range n {
		g.Go(func() error {
			return kc.Follow(gctx, topic, p, caughtUp, func(m *kafka.Message) error {
				d, err := wire.DecodeDesignation(m.Value)
				if err != nil {
					// Only the ingest stage writes here, after validation: a bad
					// record is a bug or a foreign writer. Skip it loudly rather
					// than stall.
					o.Logger.Error("area hub: undecodable designation", slog.Int("partition", p), slog.Int64("offset", m.Offset), slog.Any("error", err))
					return nil
				}
				h.add([]scoring.Designation{d})
				return nil
			})
		})
	}
	return g.Wait()
}

// gate is opened once, with or without an error, and can be waited for.
type gate struct {
	done chan struct{}
	once *sync.Once
	err  *error // set before done is closed
}

func newGate() gate { return gate{done: make(chan struct{}), once: &sync.Once{}, err: new(error)} }

// open opens the gate with err (nil: ready); later calls do nothing.
func (g gate) open(err error) {
	g.once.Do(func() {
		*g.err = err
		close(g.done)
	})
}

// wait returns once the gate is open, with the error it was opened with, or
// ctx's error.
func (g gate) wait(ctx context.Context) error {
	select {
	case <-g.done:
		return *g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
