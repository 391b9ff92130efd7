package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"healthcode/pipeline/kafka"
)

// The operator's side of the dead-letter topic (`healthcode dead-letters`).
// A dead letter's key and value are raw upstream input (raw ID numbers), so
// what is listed is only what its headers and timestamp say.

// DeadLetter is what may be shown of one dead letter: never its key or value.
type DeadLetter struct {
	Offset       int64     // on the dead-letter topic
	Time         time.Time // when it was dead-lettered
	Reason       string    // the error header
	Topic        string    // the topic it came from, "" if unknown
	Partition    int       // its partition there, -1 if unknown
	SourceOffset int64     // its offset there, -1 if unknown
	Table        string    // the ClickHouse table that refused it, if any
}

// DeadLetterFilter chooses dead letters. The zero value chooses all.
type DeadLetterFilter struct {
	Topic          string         // only those from this topic
	Since          time.Time      // only those dead-lettered at or after it
	Offsets        map[int64]bool // only those at these offsets of the dead-letter topic
	ReasonContains string         // only those whose reason contains it
}

func (f *DeadLetterFilter) match(d *DeadLetter) bool {
	return (f.Topic == "" || d.Topic == f.Topic) &&
		(f.Since.IsZero() || !d.Time.Before(f.Since)) &&
		(f.Offsets == nil || f.Offsets[d.Offset]) &&
		(f.ReasonContains == "" || strings.Contains(d.Reason, f.ReasonContains))
}

func describeDeadLetter(m *kafka.Message) DeadLetter {
	num := func(key string) int64 {
		n, err := strconv.ParseInt(headerValue(m, key), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return DeadLetter{Offset: m.Offset, Time: m.Time, Reason: headerValue(m, HeaderError), Topic: headerValue(m, HeaderTopic),
		Partition: int(num(HeaderPartition)), SourceOffset: num(HeaderOffset), Table: headerValue(m, HeaderTable)}
}

// ListDeadLetters reads every partition of the dead-letter topic to its
// current end and calls fn for each dead letter f chooses, with the message
// (fn must not show its key or value).
func ListDeadLetters(ctx context.Context, kc *kafka.Client, topic string, f DeadLetterFilter, fn func(DeadLetter, *kafka.Message) error) error {
	n, err := kc.PartitionCount(ctx, topic)
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	for p := range n {
		ends, err := kc.EndOffsets(ctx, topic, p)
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		err = kc.Replay(ctx, topic, p, ends[p], func(m *kafka.Message) error {
			d := describeDeadLetter(m)
			if !f.match(&d) {
				return nil
			}
			return fn(d, m)
		})
		if err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
	}
	return nil
}

// ReplayReport says what ReplayDeadLetters sent, or would send.
type ReplayReport struct {
	Replayed []DeadLetter // sent (or, in a dry run, to be sent) to their source topic and partition
	Skipped  []DeadLetter // chosen but without a source topic and partition to send them to
}

// ReplayDeadLetters re-sends the dead letters f chooses, key and value as
// dead-lettered, to the topic and partition they came from (their topic and
// partition headers), after an upstream fix; in a dry run it sends nothing.
// It returns once every message sent is acknowledged.
func ReplayDeadLetters(ctx context.Context, kc *kafka.Client, topic string, f DeadLetterFilter, dryRun bool) (ReplayReport, error) {
	var rep ReplayReport
	var out []kafka.Message
	err := ListDeadLetters(ctx, kc, topic, f, func(d DeadLetter, m *kafka.Message) error {
		if d.Topic == "" || d.Topic == topic || d.Partition < 0 {
			rep.Skipped = append(rep.Skipped, d)
			return nil
		}
		rep.Replayed = append(rep.Replayed, d)
		out = append(out, kafka.Message{Topic: d.Topic, Partition: d.Partition, Key: m.Key, Value: m.Value})
		return nil
	})
	if err != nil || dryRun || len(out) == 0 {
		return rep, err
	}
	w := kc.NewWriter("", kafka.PartitionBalancer{})
	defer w.Close()
	if err := kafka.Write(ctx, w, out...); err != nil {
		return ReplayReport{Skipped: rep.Skipped}, fmt.Errorf("replay dead letters: %w", err)
	}
	return rep, nil
}
