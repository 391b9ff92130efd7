package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
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
		if err := out.w.WriteMessages(ctx, out.msgs...); err != nil {
			return fmt.Errorf("write %s: %w", out.w.Topic, err)
		}
	}
	return nil
}

// endOffsets returns the high watermark (the offset the next message will
// get) of each of partitions of topic.
func endOffsets(ctx context.Context, brokers []string, topic string, partitions ...int) (map[int]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	ends := make(map[int]int64, len(partitions))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends, nil
}

// replayPartition reads partition p of topic from its first retained offset up
// to (not including) end, calling fn for each message: how a partition's
// state is restored (a changelog, or the input of an index) before new input.
func replayPartition(ctx context.Context, o *Options, topic string, p int, end int64, fn func(*kafka.Message) error) error {
	if end <= 0 {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Kafka.Brokers, Topic: topic, Partition: p,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("replay %s/%d: %w", topic, p, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("replay %s/%d: %w", topic, p, err)
		}
		if m.Offset >= end {
			return nil
		}
		if err := fn(&m); err != nil {
			return err
		}
		if m.Offset+1 >= end {
			return nil
		}
	}
}
