package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// areaHub follows the compacted hc.area-risk topic (reference data every
// partition needs) and keeps every designation in arrival order. Partition
// goroutines apply the designations they have not seen yet between batches.
type areaHub struct {
	mu    sync.Mutex // protects list
	list  []scoring.Designation
	ready chan struct{} // closed once the topic has been read to its end at start
}

func newAreaHub() *areaHub {
	return &areaHub{ready: make(chan struct{})}
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

// run reads every partition of topic from the start and follows it.
func (h *areaHub) run(ctx context.Context, o *Options, topic string) error {
	n, err := PartitionCount(ctx, o.Kafka.Brokers, topic)
	if err != nil {
		return fmt.Errorf("area hub: %w", err)
	}
	// Find where each partition ends now, so "ready" means everything that
	// existed at start has been loaded.
	parts := make([]int, n)
	for p := range parts {
		parts[p] = p
	}
	ends, err := endOffsets(ctx, o.Kafka.Brokers, topic, parts...)
	if err != nil {
		return fmt.Errorf("area hub: %w", err)
	}
	pending := sync.WaitGroup{}
	errc := make(chan error, n)
	for p := 0; p < n; p++ {
		end := ends[p]
		if end > 0 {
			pending.Add(1)
		}
		go func(p int, end int64) {
			errc <- h.follow(ctx, o, topic, p, end, &pending)
		}(p, end)
	}
	go func() {
		pending.Wait()
		close(h.ready)
	}()
	for p := 0; p < n; p++ {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func (h *areaHub) follow(ctx context.Context, o *Options, topic string, p int, end int64, pending *sync.WaitGroup) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   o.Kafka.Brokers,
		Topic:     topic,
		Partition: p,
		MinBytes:  1,
		MaxBytes:  8 << 20,
		MaxWait:   100 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("area hub: %w", err)
	}
	caughtUp := end <= 0
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return ignoreCancel(err)
		}
		d, err := wire.DecodeDesignation(m.Value)
		if err != nil {
			// Only the ingest stage writes here, after validation: a bad record
			// is a bug or a foreign writer. Skip it loudly rather than stall.
			o.Logger.Error("area hub: undecodable designation", slog.Int("partition", p), slog.Int64("offset", m.Offset), slog.Any("error", err))
		} else {
			h.add([]scoring.Designation{d})
		}
		if !caughtUp && m.Offset+1 >= end {
			caughtUp = true
			pending.Done()
		}
	}
}
