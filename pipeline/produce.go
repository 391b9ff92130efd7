package pipeline

import (
	"context"
	"fmt"

	"healthcode/pipeline/kafka"
	"healthcode/sources"
)

// UpstreamProducer writes upstream messages (the simulator's, or a replay's)
// into the src.* topics in batches. It copies keys and values, so callers may
// reuse their buffers. Not safe for concurrent use.
type UpstreamProducer struct {
	w      *kafka.Writer
	topics map[sources.Stream]string
	batch  []kafka.Message
	sent   int64
}

// NewUpstreamProducer returns a producer for the given stream topics.
func NewUpstreamProducer(kc *kafka.Client, topics map[sources.Stream]string) *UpstreamProducer {
	return &UpstreamProducer{w: kc.NewWriter("", &kafka.Hash{}), topics: topics, batch: make([]kafka.Message, 0, 10000)}
}

// Add queues one message, writing the batch when it is full.
func (p *UpstreamProducer) Add(ctx context.Context, s sources.Stream, key, value []byte) error {
	topic, ok := p.topics[s]
	if !ok {
		return fmt.Errorf("produce: no topic for stream %v", s)
	}
	p.batch = append(p.batch, kafka.Message{Topic: topic,
		Key: append([]byte(nil), key...), Value: append([]byte(nil), value...)})
	if len(p.batch) == cap(p.batch) {
		return p.Flush(ctx)
	}
	return nil
}

// Flush writes what is queued and waits for the acknowledgement.
func (p *UpstreamProducer) Flush(ctx context.Context) error {
	if len(p.batch) == 0 {
		return nil
	}
	if err := kafka.Write(ctx, p.w, p.batch...); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	p.sent += int64(len(p.batch))
	p.batch = p.batch[:0]
	return nil
}

// Sent is the number of messages written and acknowledged.
func (p *UpstreamProducer) Sent() int64 { return p.sent }

// Close flushes and closes the writer.
func (p *UpstreamProducer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if cerr := p.w.Close(); err == nil {
		err = cerr
	}
	return err
}
