package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// TopicSpec is a topic EnsureTopics creates if it is missing.
type TopicSpec struct {
	Name       string
	Partitions int  // required, > 0
	Compacted  bool // cleanup.policy=compact (reference data, changelogs)
	// Retention, when positive, sets retention.ms (a topic that must hold a
	// look-back); zero leaves the broker's default.
	Retention time.Duration
	// ReplicationFactor defaults to min(3, number of brokers).
	ReplicationFactor int
}

// metadata returns fresh metadata for topics (all topics if none). It never
// creates a topic, unlike kafka-go's Conn.ReadPartitions, which asks the
// broker to auto-create.
func (c *Client) metadata(ctx context.Context, topics ...string) (*kafkago.MetadataResponse, error) {
	var res *kafkago.MetadataResponse
	err := c.withClient(ctx, func(kc *kafkago.Client) error {
		var err error
		res, err = kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
		return err
	})
	return res, err
}

// EnsureTopics creates the topics of specs that do not exist yet, through the
// controller, and waits until metadata shows each created topic with its
// partition count and a leader for every partition. Topics that exist are
// left as they are, whatever their partition count (PartitionCount tells).
// It is idempotent and safe to race with another process doing the same.
func (c *Client) EnsureTopics(ctx context.Context, specs ...TopicSpec) error {
	for _, s := range specs {
		if s.Name == "" || s.Partitions <= 0 {
			return fmt.Errorf("ensure topics: topic %q with %d partitions", s.Name, s.Partitions)
		}
	}
	meta, err := c.metadata(ctx)
	if err != nil {
		return fmt.Errorf("ensure topics: metadata: %w", err)
	}
	existing := map[string]bool{}
	for _, t := range meta.Topics {
		if t.Error == nil {
			existing[t.Name] = true
		}
	}
	var create []kafkago.TopicConfig
	want := map[string]int{}
	for _, s := range specs {
		if existing[s.Name] {
			continue
		}
		rf := s.ReplicationFactor
		if rf <= 0 {
			rf = min(3, len(meta.Brokers))
		}
		tc := kafkago.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: rf}
		if s.Compacted {
			tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		}
		if s.Retention > 0 {
			tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: "retention.ms",
				ConfigValue: strconv.FormatInt(s.Retention.Milliseconds(), 10)})
		}
		create = append(create, tc)
		want[s.Name] = s.Partitions
	}
	if len(create) == 0 {
		return nil
	}
	err = c.withClient(ctx, func(kc *kafkago.Client) error {
		res, err := kc.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: create})
		if err != nil {
			return err
		}
		for name, err := range res.Errors {
			if err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
				return fmt.Errorf("create %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	// Creation is asynchronous on a real cluster: wait for every partition
	// to have a leader.
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		meta, err := c.metadata(ctx, names...)
		pending := ""
		if err != nil {
			pending = err.Error()
		} else {
			pending = pendingTopics(meta, want)
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensure topics: waiting for %s: %w", pending, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// pendingTopics names the first topic of want that meta does not show ready.
func pendingTopics(meta *kafkago.MetadataResponse, want map[string]int) string {
	ready := 0
	for _, t := range meta.Topics {
		n, ok := want[t.Name]
		if !ok {
			continue
		}
		if t.Error != nil || len(t.Partitions) != n {
			return fmt.Sprintf("%s (%d of %d partitions)", t.Name, len(t.Partitions), n)
		}
		for _, p := range t.Partitions {
			if p.Leader.Host == "" {
				return fmt.Sprintf("%s (partition %d without a leader)", t.Name, p.ID)
			}
		}
		ready++
	}
	if ready != len(want) {
		return fmt.Sprintf("%d of %d topics", len(want)-ready, len(want))
	}
	return ""
}

// PartitionCount returns the number of partitions of topic, from fresh
// metadata. A missing topic is an error wrapping kafka-go's
// UnknownTopicOrPartition (it is not auto-created).
func (c *Client) PartitionCount(ctx context.Context, topic string) (int, error) {
	meta, err := c.metadata(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("partition count of %s: %w", topic, err)
	}
	return partitionCount(meta, topic)
}

func partitionCount(meta *kafkago.MetadataResponse, topic string) (int, error) {
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("partition count of %s: %w", topic, t.Error)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("partition count of %s: %w", topic, kafkago.UnknownTopicOrPartition)
}

// IsUnknownTopic reports whether err says that a topic does not exist.
func IsUnknownTopic(err error) bool { return errors.Is(err, kafkago.UnknownTopicOrPartition) }

// EndOffsets returns the high watermark (the offset the next message will
// get) of each of partitions of topic.
func (c *Client) EndOffsets(ctx context.Context, topic string, partitions ...int) (map[int]int64, error) {
	var ends map[int]int64
	err := c.withClient(ctx, func(kc *kafkago.Client) error {
		by, err := listEndsByTopic(ctx, kc, map[string][]int{topic: partitions})
		ends = by[topic]
		return err
	})
	if err != nil {
		return nil, err
	}
	return ends, nil
}

// listEndsByTopic returns the high watermark of each partition of parts.
func listEndsByTopic(ctx context.Context, kc *kafkago.Client, parts map[string][]int) (map[string]map[int]int64, error) {
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for topic, ps := range parts {
		for _, p := range ps {
			req.Topics[topic] = append(req.Topics[topic], kafkago.LastOffsetOf(p))
		}
	}
	res, err := kc.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[string]map[int]int64, len(parts))
	for topic := range parts {
		out[topic] = map[int]int64{}
		for _, po := range res.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			out[topic][po.Partition] = po.LastOffset
		}
	}
	return out, nil
}
