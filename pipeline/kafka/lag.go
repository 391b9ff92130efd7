package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	kafkago "github.com/segmentio/kafka-go"
)

// PartitionLag is how far one consumer group is behind on one partition: the
// figure behind a metric such as consumer_lag{group,topic,partition}.
type PartitionLag struct {
	Group     string
	Topic     string
	Partition int
	Committed int64 // the group's committed offset (the next to read); -1 if it has committed none
	End       int64 // the partition's high watermark
	Lag       int64 // messages below End not yet committed: End − max(Committed, 0), at least 0
}

// Lag returns, for every partition of topics, how many messages group has not
// committed yet, sorted by topic and partition. A group that has not joined
// yet has committed nothing: everything is lag. It uses one fresh transport
// for its metadata, list-offsets and offset-fetch round trips.
func (c *Client) Lag(ctx context.Context, group string, topics ...string) ([]PartitionLag, error) {
	var out []PartitionLag
	err := c.withClient(ctx, func(kc *kafkago.Client) error {
		meta, err := kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		parts := map[string][]int{}
		for _, topic := range topics {
			n, err := partitionCount(meta, topic)
			if err != nil {
				return err
			}
			for p := range n {
				parts[topic] = append(parts[topic], p)
			}
		}
		ends, err := listEndsByTopic(ctx, kc, parts)
		if err != nil {
			return err
		}
		fo, err := kc.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: parts})
		if err != nil {
			return fmt.Errorf("offset fetch %s: %w", group, err)
		}
		if fo.Error != nil && !errors.Is(fo.Error, kafkago.GroupIdNotFound) {
			return fmt.Errorf("offset fetch %s: %w", group, fo.Error)
		}
		for topic, ps := range parts {
			committed := map[int]int64{}
			for _, pp := range fo.Topics[topic] {
				committed[pp.Partition] = pp.CommittedOffset
			}
			for _, p := range ps {
				l := PartitionLag{Group: group, Topic: topic, Partition: p, Committed: -1, End: ends[topic][p]}
				if cm, ok := committed[p]; ok && cm >= 0 {
					l.Committed = cm
				}
				l.Lag = max(0, l.End-max(l.Committed, 0))
				out = append(out, l)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lag of %s: %w", group, err)
	}
	slices.SortFunc(out, func(a, b PartitionLag) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return a.Partition - b.Partition
	})
	return out, nil
}
