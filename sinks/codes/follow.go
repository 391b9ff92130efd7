package codes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"healthcode/pipeline"
)

// This file is the only one that speaks Kafka: it follows every partition of
// a topic from its first offset, like a goka view, and tells when it has
// read up to the end offsets it found on start (the restore).

// follow reads every partition of topic from the start and calls apply for
// each message, until ctx ends. caughtUp is called once, when every
// partition has reached the end offset it had when follow started.
func follow(ctx context.Context, brokers []string, topic string, log *slog.Logger,
	apply func(*kafka.Message), caughtUp func()) error {
	var n int
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if n, err = pipeline.PartitionCount(ctx, brokers, topic); err == nil {
			break
		}
		log.Warn("codes: waiting for topic", slog.String("topic", topic), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	ends, err := endOffsets(ctx, brokers, topic, n)
	if err != nil {
		return err
	}
	var pending atomic.Int32
	pending.Store(int32(n))
	done := func() {
		if pending.Add(-1) == 0 {
			caughtUp()
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for p := 0; p < n; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := followPartition(ctx, brokers, topic, p, ends[p], apply, done); err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func followPartition(ctx context.Context, brokers []string, topic string, p int, end int64,
	apply func(*kafka.Message), done func()) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond, QueueCapacity: 1000})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("follow %s/%d: %w", topic, p, err)
	}
	if end <= 0 {
		done()
		end = -1
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow %s/%d: %w", topic, p, err)
		}
		apply(&m)
		if end > 0 && m.Offset+1 >= end {
			done()
			end = -1
		}
	}
}

// endOffsets returns the high watermark of each of the n partitions of topic.
func endOffsets(ctx context.Context, brokers []string, topic string, n int) (map[int]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < n; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	ends := make(map[int]int64, n)
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends, nil
}
