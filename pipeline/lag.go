package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Lag is, per consumer group of the pipeline, how many messages of its input
// topics are not yet committed.
type Lag map[string]int64

// Total sums the lag of every group.
func (l Lag) Total() int64 {
	var n int64
	for _, v := range l {
		n += v
	}
	return n
}

// Lag measures every running stage's consumer-group lag against the end of its
// input topics. The demo and the end-to-end tests use it to know when the
// pipeline has drained.
func (p *Pipeline) Lag(ctx context.Context) (Lag, error) {
	t := &p.o.Topics
	groups := map[string][]string{}
	if p.o.has(StageIngest) {
		for _, name := range t.Sources {
			groups[p.o.group(StageIngest)] = append(groups[p.o.group(StageIngest)], name)
		}
	}
	if p.o.has(StageScore) {
		groups[p.o.group(StageScore)] = []string{t.PersonEvents}
	}
	if p.o.has(StageTrace) {
		groups[p.o.group(StageTrace)] = []string{t.Presence}
	}
	if p.o.has(StageSink) {
		groups[p.o.group(StageSink+"-events")] = []string{t.PersonEvents}
		groups[p.o.group(StageSink+"-colours")] = []string{t.ColourUpdates}
		groups[p.o.group(StageSink+"-exposures")] = []string{t.Exposures}
	}
	client := &kafka.Client{Addr: kafka.TCP(p.o.Kafka.Brokers...), Timeout: 10 * time.Second}
	out := Lag{}
	for group, topics := range groups {
		ends := map[string]map[int]int64{}
		fetch := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
		list := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
		for _, topic := range topics {
			n, err := PartitionCount(ctx, p.o.Kafka.Brokers, topic)
			if err != nil {
				return nil, err
			}
			ends[topic] = map[int]int64{}
			for i := 0; i < n; i++ {
				fetch.Topics[topic] = append(fetch.Topics[topic], i)
				list.Topics[topic] = append(list.Topics[topic], kafka.LastOffsetOf(i))
			}
		}
		lo, err := client.ListOffsets(ctx, list)
		if err != nil {
			return nil, fmt.Errorf("lag: list offsets: %w", err)
		}
		for topic, parts := range lo.Topics {
			for _, po := range parts {
				if po.Error != nil {
					return nil, fmt.Errorf("lag: %s/%d: %w", topic, po.Partition, po.Error)
				}
				ends[topic][po.Partition] = po.LastOffset
			}
		}
		fo, err := client.OffsetFetch(ctx, fetch)
		if err != nil {
			return nil, fmt.Errorf("lag: offset fetch %s: %w", group, err)
		}
		if fo.Error != nil && !errors.Is(fo.Error, kafka.GroupIdNotFound) {
			// A group that has not joined yet has committed nothing: all is lag.
			return nil, fmt.Errorf("lag: offset fetch %s: %w", group, fo.Error)
		}
		var lag int64
		for topic, parts := range ends {
			committed := map[int]int64{}
			for _, pp := range fo.Topics[topic] {
				committed[pp.Partition] = pp.CommittedOffset
			}
			for part, end := range parts {
				c, ok := committed[part]
				if !ok || c < 0 {
					c = 0
				}
				if end > c {
					lag += end - c
				}
			}
		}
		out[group] = lag
	}
	return out, nil
}

// WaitDrained blocks until every stage has committed all of its input, seen
// twice in a row poll apart (a stage may still be writing what it consumed),
// or ctx ends.
func (p *Pipeline) WaitDrained(ctx context.Context, poll time.Duration, progress func(Lag)) error {
	zero := 0
	for {
		lag, err := p.Lag(ctx)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(lag)
		}
		if lag.Total() == 0 {
			zero++
			if zero >= 2 {
				return nil
			}
		} else {
			zero = 0
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
