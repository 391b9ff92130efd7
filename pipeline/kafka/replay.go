package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Replay reads partition p of topic from its first retained offset up to (not
// including) end, calling fn for each message, and returns once every message
// below end has been passed to fn: how a partition's state is restored (a
// changelog, or the input of an index) before new input. A tail below end
// that holds no message any more (compacted away, or control records) does
// not hold it up. A broker that cannot be reached is waited for, with a
// warning; it returns fn's error, ctx's, or a Kafka error that will not pass,
// wrapped.
func (c *Client) Replay(ctx context.Context, topic string, p int, end int64, fn func(*Message) error) error {
	if end <= 0 {
		return nil
	}
	err := c.read(ctx, topic, p, end, nil, fn)
	if err != nil {
		return fmt.Errorf("replay %s/%d: %w", topic, p, err)
	}
	return nil
}

// Follow reads partition p of topic from its first retained offset and keeps
// following it, calling fn for each message, until ctx is done (then it
// returns nil) or fn fails or the reader meets an error that will not pass
// (then it returns the error). A broker that cannot be reached, as while it
// restarts, is waited for, with a warning, as Replay does.
// caughtUp, if not nil, is called once, from Follow's goroutine, when every
// message the partition held when Follow started has been passed to fn (at
// once if it held none): the point where a follower of reference data is
// ready.
func (c *Client) Follow(ctx context.Context, topic string, p int, caughtUp func(), fn func(*Message) error) error {
	r := c.newRetrier(topic, p)
	var ends map[int]int64
	for {
		var err error
		if ends, err = c.EndOffsets(ctx, topic, p); err == nil {
			break
		}
		if err = r.wait(ctx, "end offset", err); err != nil {
			return ignoreDone(ctx, fmt.Errorf("follow %s/%d: %w", topic, p, err))
		}
	}
	if caughtUp == nil {
		caughtUp = func() {}
	}
	return ignoreDone(ctx, c.read(ctx, topic, p, ends[p], caughtUp, fn))
}

// retrier waits out a read's failures that may pass (the broker restarting,
// a leader moving), as the group reader does: a follower of reference data
// that gave up would take its process down with it.
type retrier struct {
	c        *Client
	topic    string
	p        int
	backoff  time.Duration
	throttle *throttle
}

func (c *Client) newRetrier(topic string, p int) *retrier {
	return &retrier{c: c, topic: topic, p: p, backoff: c.cfg.RetryBackoff, throttle: &throttle{period: 10 * time.Second}}
}

// maxReadBackoff bounds the wait between a reader's retries: kafka-go's
// reader backs off on its own too, and a restarted broker should be read
// again within seconds.
const maxReadBackoff = 2 * time.Second

// wait logs err (throttled) and waits before the next attempt. It returns
// err itself if it will not pass (a Kafka error the protocol calls
// permanent, such as a failed authorisation), and ctx's error once ctx ends.
func (r *retrier) wait(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var kerr kafkago.Error
	if errors.As(err, &kerr) && !kerr.Temporary() {
		return err
	}
	if ok, dropped := r.throttle.allow(time.Now()); ok {
		r.c.cfg.Logger.Warn("kafka: read failed; retrying", slog.String("topic", r.topic), slog.Int("partition", r.p),
			slog.String("step", what), slog.Any("error", err), slog.Duration("backoff", r.backoff), slog.Int("suppressed", dropped))
	}
	select {
	case <-time.After(r.backoff):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.backoff = min(2*r.backoff, maxReadBackoff)
	return nil
}

// ok resets the backoff after a success.
func (r *retrier) ok() { r.backoff = r.c.cfg.RetryBackoff }

func ignoreDone(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// read is Replay (caughtUp nil: stop at end) and Follow (caughtUp set: call
// it at end and go on).
//
// Reaching end is judged on what the reader delivers (a message at end-1 or
// beyond) and, when the reader has delivered nothing for a while, by asking
// the broker whether any message is left in [position, end): the last offsets
// below end may hold no message (compacted away, transaction markers), and a
// reader never delivers them.
func (c *Client) read(ctx context.Context, topic string, p int, end int64, caughtUp func(), fn func(*Message) error) error {
	r := c.NewPartitionReader(topic, p)
	defer r.Close()
	if err := r.SetOffset(FirstOffset); err != nil {
		return err
	}
	caught := end <= 0
	reached := func() (stop bool) {
		caught = true
		if caughtUp == nil {
			return true
		}
		caughtUp()
		return false
	}
	if caught && reached() {
		return nil
	}
	idle := 4 * c.cfg.FetchMaxWait
	next := int64(FirstOffset) // offset after the last message delivered
	checks := &throttle{period: 30 * time.Second}
	retry := c.newRetrier(topic, p)
	for {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if !caught {
			fctx, cancel = context.WithTimeout(ctx, idle)
		}
		m, err := fetch(fctx, r)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if caught || !errors.Is(err, context.DeadlineExceeded) {
				// kafka-go's reader reports a failed connection and goes
				// on trying by itself, from where it was.
				if err := retry.wait(ctx, "fetch", err); err != nil {
					return err
				}
				continue
			}
			left, err := c.readableIn(ctx, topic, p, next, end)
			if err != nil {
				if ok, dropped := checks.allow(time.Now()); ok {
					c.cfg.Logger.Warn("kafka: position check failed; still reading", slog.String("topic", topic),
						slog.Int("partition", p), slog.Any("error", err), slog.Int("suppressed", dropped))
				}
				continue
			}
			if !left && reached() {
				return nil
			}
			continue
		}
		if !caught && m.Offset >= end && reached() {
			return nil
		}
		retry.ok()
		if err := fn(&m); err != nil {
			return err
		}
		next = m.Offset + 1
		if !caught && next >= end && reached() {
			return nil
		}
	}
}

// readableIn reports whether partition p of topic holds a message a reader
// would deliver at an offset in [from, end) (from FirstOffset: the first
// retained). It reads the range batch by batch on a connection to the
// partition's leader, skipping batches whose records were compacted away.
func (c *Client) readableIn(ctx context.Context, topic string, p int, from, end int64) (bool, error) {
	var conn *kafkago.Conn
	var err error
	for _, b := range c.cfg.Brokers {
		if conn, err = c.dialer.DialLeader(ctx, "tcp", b, topic, p); err == nil {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("dial leader of %s/%d: %w", topic, p, err)
	}
	defer conn.Close()
	if from < 0 {
		if err := conn.SetDeadline(time.Now().Add(c.cfg.RequestTimeout)); err != nil {
			return false, err
		}
		if from, err = conn.ReadFirstOffset(); err != nil {
			return false, fmt.Errorf("first offset of %s/%d: %w", topic, p, err)
		}
	}
	for from < end {
		if _, err := conn.Seek(from, kafkago.SeekAbsolute|kafkago.SeekDontCheck); err != nil {
			return false, err
		}
		if err := conn.SetDeadline(time.Now().Add(c.cfg.RequestTimeout)); err != nil {
			return false, err
		}
		b := conn.ReadBatch(1, c.cfg.FetchMaxBytes)
		found := false
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			if m.Offset >= from && m.Offset < end {
				found = true
				break
			}
		}
		after := b.Offset()
		if err := b.Close(); err != nil && !found {
			return false, fmt.Errorf("read %s/%d at %d: %w", topic, p, from, err)
		}
		if found || after <= from {
			// A message, or a batch that did not move the position (nothing
			// learnt): let the reader go on.
			return true, nil
		}
		from = after
	}
	return false, nil
}
