package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// GroupReader consumes topics as a member of a consumer group, as one stream
// of messages across every partition assigned to this member. Unlike
// kafka-go's group Reader, its commits are bound to the generation a message
// was fetched in: after a rebalance, messages fetched before it are no longer
// delivered, and a commit of them is dropped, never sent. kafka-go's Reader
// commits such messages under the new generation, for partitions another
// member may own by then, which can move a partition's committed offset
// backwards behind its new owner's (a lag that never drains, and input read
// twice after the next rebalance). Dropped commits are safe: the partition's
// owner reads those messages again from the last committed offset.
type GroupReader struct {
	k      *Client
	group  string
	topics []string
	log    *slog.Logger
	msgs   chan fetched
	cancel context.CancelFunc
	done   chan struct{}

	cur atomic.Pointer[generation] // the current generation; nil between generations
}

// generation is one consumer-group generation: what it owns, the last
// offset it delivered per partition, and the offsets passed to
// CommitMessages: marked (stash) and sent.
type generation struct {
	gen   *kafkago.Generation
	owned map[string]map[int]bool
	mu    sync.Mutex
	last  map[string]map[int]int64 // highest offset delivered in this generation
	stash map[string]map[int]int64 // next offsets marked, not yet sent
	sent  map[string]map[int]int64 // next offsets sent
}

// at returns m[t][p], or -1.
func at(m map[string]map[int]int64, t string, p int) int64 {
	if v, ok := m[t][p]; ok {
		return v
	}
	return -1
}

func put(m map[string]map[int]int64, t string, p int, v int64) {
	if m[t] == nil {
		m[t] = map[int]int64{}
	}
	m[t][p] = v
}

// fetched is a message and the generation it was fetched in.
type fetched struct {
	m   Message
	gen *generation
}

// NewGroupReader joins group as a consumer of topics. The group's goroutines
// do not inherit the caller's profiler labels. Close it when done: Close
// leaves the group, so that its partitions move at once.
func (k *Client) NewGroupReader(ctx context.Context, group string, topics ...string) *GroupReader {
	rctx, cancel := context.WithCancel(context.Background())
	r := &GroupReader{
		k: k, group: group, topics: slices.Clone(topics),
		log:    k.cfg.Logger.With(slog.String("group", group)),
		msgs:   make(chan fetched, k.cfg.QueueCapacity),
		cancel: cancel, done: make(chan struct{}),
	}
	unlabelled(ctx, func() { go r.run(rctx) })
	return r
}

// Close leaves the group and stops every fetch. Calling it twice is harmless.
func (r *GroupReader) Close() error {
	r.cancel()
	<-r.done
	return nil
}

// Assigned returns the partitions of topic the current generation assigned
// to this member, each with the offset it started from: the group's
// committed offset, or a negative one (FirstOffset) where nothing was
// committed. It is nil between generations.
func (r *GroupReader) Assigned(topic string) map[int]int64 {
	g := r.cur.Load()
	if g == nil {
		return nil
	}
	out := map[int]int64{}
	for _, a := range g.gen.Assignments[topic] {
		out[a.ID] = a.Offset
	}
	return out
}

// FetchMessage returns the next message of the current generation; it skips
// those fetched in an earlier one.
func (r *GroupReader) FetchMessage(ctx context.Context) (Message, error) {
	for {
		select {
		case f := <-r.msgs:
			if g := r.cur.Load(); g == f.gen {
				g.mu.Lock()
				put(g.last, f.m.Topic, f.m.Partition, max(at(g.last, f.m.Topic, f.m.Partition), f.m.Offset))
				g.mu.Unlock()
				return f.m, nil
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-r.done:
			return Message{}, errors.New("group reader closed")
		}
	}
}

// CommitMessages marks, per partition, the offset after the last of msgs as
// done; every CommitInterval (Config) the highest marked offsets are sent to
// the broker, and once more when the generation ends or the reader closes,
// so what a crash loses is at most one interval of commits, whose messages
// are then read again. With a CommitInterval of zero it commits at once.
// Offsets past what the current generation delivered (messages of an earlier
// one) are left uncommitted (see GroupReader), and a commit never goes back.
// Pass a batch only once the effects of all of it are acknowledged.
func (r *GroupReader) CommitMessages(ctx context.Context, msgs ...Message) error {
	g := r.cur.Load()
	if g == nil || len(msgs) == 0 {
		return nil
	}
	g.mu.Lock()
	for i := range msgs {
		m := &msgs[i]
		// Only what this generation delivered (an earlier generation's
		// message past that is not this member's to commit), and never
		// an offset at or below one already marked or sent.
		if !g.owned[m.Topic][m.Partition] || m.Offset > at(g.last, m.Topic, m.Partition) {
			continue
		}
		next := m.Offset + 1
		if next > at(g.stash, m.Topic, m.Partition) && next > at(g.sent, m.Topic, m.Partition) {
			put(g.stash, m.Topic, m.Partition, next)
		}
	}
	g.mu.Unlock()
	if r.k.cfg.CommitInterval > 0 {
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- r.flush(g) }()
	select {
	case err := <-errc:
		if err != nil && r.cur.Load() != g {
			return nil // the generation ended meanwhile: the new owner reads them again
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush sends g's marked offsets; on failure they stay marked for the next.
func (r *GroupReader) flush(g *generation) error {
	g.mu.Lock()
	next := g.stash
	g.stash = map[string]map[int]int64{}
	g.mu.Unlock()
	if len(next) == 0 {
		return nil
	}
	if err := g.gen.CommitOffsets(next); err != nil {
		g.mu.Lock()
		for t, ps := range next {
			for p, o := range ps {
				put(g.stash, t, p, max(at(g.stash, t, p), o))
			}
		}
		g.mu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	g.mu.Lock()
	for t, ps := range next {
		for p, o := range ps {
			put(g.sent, t, p, max(at(g.sent, t, p), o))
		}
	}
	g.mu.Unlock()
	return nil
}

// committer sends g's marked offsets every CommitInterval, and a last time
// when the generation ends (the broker accepts the old generation's commits
// while the group rebalances).
func (r *GroupReader) committer(gctx context.Context, g *generation) {
	var tick <-chan time.Time
	if iv := r.k.cfg.CommitInterval; iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	fails := &throttle{period: 30 * time.Second}
	for {
		select {
		case <-tick:
			if err := r.flush(g); err != nil {
				if ok, dropped := fails.allow(time.Now()); ok {
					r.log.Warn("group reader: commit failed; retrying", slog.Any("err", err), slog.Int("suppressed", dropped))
				}
			}
		case <-gctx.Done():
			r.cur.CompareAndSwap(g, nil)
			if err := r.flush(g); err != nil {
				r.log.Debug("group reader: last commit of a generation failed; its messages are read again", slog.Any("err", err))
			}
			return
		}
	}
}

// run joins the group and, per generation, fetches every assigned partition
// into r.msgs until the generation ends.
func (r *GroupReader) run(ctx context.Context) {
	defer close(r.done)
	sticky := &stickyBalancer{}
	cg, err := r.k.newConsumerGroup(r.group, r.topics, sticky)
	if err != nil {
		r.log.Error("group reader: consumer group", slog.Any("err", err))
		return
	}
	defer cg.Close()
	joinErrs := &throttle{period: 30 * time.Second}
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if ok, dropped := joinErrs.allow(time.Now()); ok {
				r.log.Warn("join consumer group failed; retrying", slog.Any("err", err), slog.Int("suppressed", dropped))
			}
			continue
		}
		g := &generation{gen: gen, owned: map[string]map[int]bool{},
			last: map[string]map[int]int64{}, stash: map[string]map[int]int64{}, sent: map[string]map[int]int64{}}
		for t, as := range gen.Assignments {
			g.owned[t] = map[int]bool{}
			for _, a := range as {
				g.owned[t][a.ID] = true
			}
		}
		r.cur.Store(g)
		gen.Start(func(gctx context.Context) { r.committer(gctx, g) })
		for _, topic := range r.topics {
			ids := make([]int, 0, len(gen.Assignments[topic]))
			for _, a := range gen.Assignments[topic] {
				ids = append(ids, a.ID)
				gen.Start(func(gctx context.Context) { r.fetchPartition(gctx, g, topic, a.ID, a.Offset) })
			}
			slices.Sort(ids)
			sticky.setOwned(topic, ids)
		}
		r.log.Debug("group reader: partitions assigned", slog.Int("generation", int(gen.ID)), slog.Any("assignments", assignedIDs(gen)))
	}
}

// fetchPartition copies one partition's messages into r.msgs, from offset,
// until the generation ends; a failed reader is replaced after a backoff.
func (r *GroupReader) fetchPartition(ctx context.Context, g *generation, topic string, partition int, offset int64) {
	backoff := r.k.cfg.RetryBackoff
	for ctx.Err() == nil {
		pr := r.k.NewPartitionReader(topic, partition)
		err := pr.SetOffset(offset)
		for err == nil {
			var m Message
			if m, err = pr.FetchMessage(ctx); err != nil {
				break
			}
			select {
			case r.msgs <- fetched{m: m, gen: g}:
				offset = m.Offset + 1
				backoff = r.k.cfg.RetryBackoff
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		pr.Close()
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("group reader: partition fetch failed; retrying", slog.String("topic", topic), slog.Int("partition", partition),
			slog.Any("err", err), slog.Duration("backoff", backoff))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

func assignedIDs(gen *kafkago.Generation) map[string][]int {
	out := map[string][]int{}
	for t, as := range gen.Assignments {
		for _, a := range as {
			out[t] = append(out[t], a.ID)
		}
		slices.Sort(out[t])
	}
	return out
}
