package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// NewPartitionReader returns a reader of one partition, outside any group,
// at the partition's first offset until SetOffset moves it. Nothing is
// committed; Close it when done.
func (c *Client) NewPartitionReader(topic string, partition int) *Reader {
	return kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:       c.cfg.Brokers,
		Topic:         topic,
		Partition:     partition,
		Dialer:        c.dialer,
		QueueCapacity: c.cfg.PartitionQueueCapacity,
		MinBytes:      1,
		MaxBytes:      c.cfg.FetchMaxBytes,
		MaxWait:       c.cfg.FetchMaxWait,
		// No background lag polling: it only logs "context canceled" when
		// the reader closes. Stats().Lag still follows the fetches.
		ReadLagInterval: -1,
		ErrorLogger:     c.errorLogger(fmt.Sprintf("partition reader %s/%d", topic, partition)),
	})
}

// Fetcher is what FetchBatch reads: a partition Reader or a GroupReader.
type Fetcher interface {
	FetchMessage(ctx context.Context) (Message, error)
}

// FetchBatch appends to buf up to max messages fetched from r and returns it.
// It blocks until the first message arrives or ctx is done (then it returns
// buf and ctx's error), and after that waits at most linger for the rest; a
// linger of zero or less, or a max below 2, returns the first message alone.
// Messages are not committed.
//
// If ctx ends or linger expires after the first message, the messages in hand
// are returned with a nil error. The goroutines r starts do not inherit the
// caller's profiler labels. If r fails after the first message, they are
// returned with the error; the caller may process them or drop them (they
// were not committed, so they will be read again).
//
// No message is lost when the linger timer fires in the middle of a fetch:
// kafka-go's Reader.FetchMessage (reader.go) selects between ctx.Done() and its
// internal message channel, and returns a message it has received without
// looking at ctx again, so a cancelled fetch leaves the next message in the
// channel for the next call, and its offset bookkeeping moves only when a
// message is returned. GroupReader.FetchMessage does the same with its own
// channel.
func FetchBatch(ctx context.Context, r Fetcher, max int, linger time.Duration, buf []Message) ([]Message, error) {
	m, err := fetch(ctx, r)
	if err != nil {
		return buf, err
	}
	buf = append(buf, m)
	if max <= 1 || linger <= 0 {
		return buf, nil
	}
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for n := 1; n < max; n++ {
		m, err := fetch(lctx, r)
		if err != nil {
			if lctx.Err() != nil {
				return buf, nil // linger expired or ctx ended: return what we have
			}
			return buf, err
		}
		buf = append(buf, m)
	}
	return buf, nil
}

// FetchBatchWithin is FetchBatch that waits at most wait for the first
// message: none by then is an empty batch and a nil error. The error is
// ctx's only once ctx itself has ended.
func FetchBatchWithin(ctx context.Context, r Fetcher, max int, linger, wait time.Duration, buf []Message) ([]Message, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	msgs, err := FetchBatch(fctx, r, max, linger, buf)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return msgs, nil
	}
	return msgs, err
}
