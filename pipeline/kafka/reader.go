package kafka

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// NewGroupReader returns a consumer-group reader of topics for a stateless
// consumer. With no committed offset a partition is read from its first offset.
//
// Commits are explicit and asynchronous: the caller passes messages to
// CommitMessages only once their effects are acknowledged, and every
// CommitInterval kafka-go sends the highest offset passed per partition (it
// sends nothing else). It also sends the pending offsets when a generation
// ends and when the reader is closed, so Close the reader on shutdown.
// At-least-once holds because an offset reaches the broker only after the
// caller has seen the effects of every message before it acknowledged (commit
// a batch only when all of it is done, never out of order); what a crash loses
// is at most one interval of commits, whose messages are then read again.
// Synchronous commits (interval 0) would cost a round trip per call.
//
// kafka-go may deliver duplicates around a rebalance (messages buffered for a
// partition that moved are dropped by FetchMessage, and the new owner starts
// at the committed offset): effects must be idempotent.
//
// The reader joins the group at once, from goroutines of its own; ctx serves
// only to keep the caller's profiler labels off them.
//
// It panics, as kafka-go's NewReader does, if no topic is given.
func (c *Client) NewGroupReader(ctx context.Context, group string, topics ...string) *Reader {
	var r *Reader
	unlabelled(ctx, func() { r = c.newGroupReader(group, topics...) })
	return r
}

func (c *Client) newGroupReader(group string, topics ...string) *Reader {
	return kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           c.cfg.Brokers,
		GroupID:           group,
		GroupTopics:       topics,
		Dialer:            c.dialer,
		QueueCapacity:     c.cfg.QueueCapacity,
		MinBytes:          1,
		MaxBytes:          c.cfg.FetchMaxBytes,
		MaxWait:           c.cfg.FetchMaxWait,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  c.cfg.RetryBackoff,
		CommitInterval:    c.cfg.CommitInterval,
		StartOffset:       kafkago.FirstOffset,
		ReadLagInterval:   -1, // lag is not available to group readers anyway
		ErrorLogger:       c.errorLogger("group " + group),
	})
}

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
// message is returned.
func FetchBatch(ctx context.Context, r *Reader, max int, linger time.Duration, buf []Message) ([]Message, error) {
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
