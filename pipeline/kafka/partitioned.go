package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Claim is one partition owned by this process for one consumer-group
// generation, handed to a RunPartitioned handler.
type Claim struct {
	Topic     string
	Partition int
	// Offset is the committed offset to start from: the offset of the next
	// message to read, or FirstOffset if nothing was committed.
	Offset int64
	// Assigned lists, sorted, every partition of Topic this member owns in
	// this generation (Partition among them): what a handler's stage may
	// keep state for. Partitions stay with their owner where balance allows
	// (the sticky assignment, sticky.go).
	Assigned []int
	// Reader reads this partition only (no group), positioned at Offset. The
	// handler owns it while it runs; the runner closes it afterwards.
	Reader *Reader
	// Commit commits next, the offset of the next message to read, for this
	// partition in this generation, synchronously. Call it once the effects
	// of every message before next are acknowledged, per batch rather than
	// per message. It may still be called after ctx is cancelled, until the
	// handler returns, to commit a final batch: the broker accepts commits of
	// the old generation while the group rebalances.
	Commit func(next int64) error
}

// RunPartitioned joins group as a consumer of topic and, for every
// generation, runs h once per partition assigned to this member, each in its
// own goroutine (kafka-go's Generation.Start). The ctx passed to h is
// cancelled when the generation ends (a rebalance, a lost session) or the
// parent ctx is done; h may then finish the batch in hand and commit it, but
// must return within RebalanceTimeout (and, to keep its commit valid, within
// SessionTimeout), or the broker drops this member and another member may
// own the partition while h still runs. The next generation starts only after
// every handler of this one has returned, so a partition is never handled
// twice in one process. Every rebalance stops and restarts all handlers (kafka-go
// implements the eager protocol only), each from its committed offset; the
// assignment is sticky (sticky.go), so a handler restarted on the partition
// it had can reuse state its stage kept (Claim.Assigned says which to keep).
//
// When ctx is done, RunPartitioned waits for the handlers of the current
// generation to return while the generation stays alive (heartbeats go on,
// commits are accepted), and only then leaves the group, so that the other
// members take the partitions over at once rather than after SessionTimeout.
//
// If h returns an error, it is logged (throttled) and h runs again for the
// same partition after a backoff (RetryBackoff, doubling to 30s, back to the
// start once a retry commits), from the last offset committed, with a new
// Reader. If h returns nil before its ctx is done, the partition stays owned
// but idle until the generation ends. A panic in h is not recovered.
//
// RunPartitioned returns nil when ctx is done, after its handlers have
// returned and this member has left the group, or an error if the group
// cannot be set up. Failures to join the group are logged and retried.
func (k *Client) RunPartitioned(ctx context.Context, group, topic string, h func(ctx context.Context, c Claim) error) error {
	o := &k.cfg
	log := o.Logger.With(slog.String("group", group), slog.String("topic", topic))
	// The group's goroutines (and the generations' handler goroutines, which
	// set the caller's labels again in claimRunner.run) start unlabelled.
	pprof.SetGoroutineLabels(context.Background())
	defer pprof.SetGoroutineLabels(ctx)
	sticky := &stickyBalancer{}
	cg, err := k.newConsumerGroup(group, []string{topic}, sticky)
	if err != nil {
		return fmt.Errorf("partitioned consumer %s: %w", group, err)
	}
	// Close ends the current generation, waits for its handlers (whose ctx
	// is already cancelled through ctx) and leaves the group.
	defer cg.Close()

	// handlers counts the running handlers of the current generation. Each
	// function started on the generation waits for all of them before it
	// returns (one returning would end the generation, and its heartbeats,
	// while the others still finish their batches).
	var handlers *sync.WaitGroup
	joinErrs := &throttle{period: 30 * time.Second}
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				if handlers != nil {
					handlers.Wait() // finishing their batches; then Close leaves the group
				}
				return nil
			}
			if ok, dropped := joinErrs.allow(time.Now()); ok {
				log.Warn("join consumer group failed; retrying", slog.Any("err", err), slog.Int("suppressed", dropped))
			}
			continue // the group backs off and rejoins by itself
		}
		assigned := gen.Assignments[topic]
		ids := make([]int, len(assigned))
		for i, a := range assigned {
			ids[i] = a.ID
		}
		slices.Sort(ids)
		sticky.setOwned(topic, ids)
		log.Info("partitions assigned", slog.Int("generation", int(gen.ID)), slog.Any("partitions", ids))
		// Commits of all partitions share the generation's coordinator
		// connection; one at a time keeps its deadlines apart.
		var commitMu sync.Mutex
		commit := func(p int, next int64) error {
			commitMu.Lock()
			defer commitMu.Unlock()
			return gen.CommitOffsets(map[string]map[int]int64{topic: {p: next}})
		}
		wg := &sync.WaitGroup{}
		wg.Add(len(assigned))
		handlers = wg
		for _, a := range assigned {
			c := &claimRunner{k: k, log: log.With(slog.Int("partition", a.ID)), topic: topic, partition: a.ID, assigned: ids, commit: commit, h: h}
			c.next.Store(a.Offset)
			gen.Start(func(gctx context.Context) {
				c.run(ctx, gctx)
				wg.Done()
				wg.Wait()
			})
		}
	}
}

// claimRunner runs a handler for one partition of one generation.
type claimRunner struct {
	k         *Client
	log       *slog.Logger
	topic     string
	partition int
	assigned  []int // every partition of topic owned in this generation
	commit    func(partition int, next int64) error
	h         func(context.Context, Claim) error
	next      atomic.Int64 // last offset committed (or the assignment's), where a retry starts
}

// run returns only when the generation ends or parent is done: a function
// started with Generation.Start that returns ends the generation for all.
func (c *claimRunner) run(parent, gctx context.Context) {
	pprof.SetGoroutineLabels(parent) // the handler runs under RunPartitioned's caller's labels
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer context.AfterFunc(gctx, cancel)()

	failures := &throttle{period: 30 * time.Second}
	backoff := c.k.cfg.RetryBackoff
	for ctx.Err() == nil { // Start runs us even for a generation already over
		start := c.next.Load()
		err := c.attempt(ctx, start)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			<-ctx.Done() // done early: keep the partition, idle, until revoked
			return
		}
		if c.next.Load() != start {
			backoff = c.k.cfg.RetryBackoff // it made progress: not a crash loop
		}
		if ok, dropped := failures.allow(time.Now()); ok {
			c.log.Error("partition handler failed; retrying", slog.Any("err", err),
				slog.Duration("backoff", backoff), slog.Int("suppressed", dropped))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// attempt runs the handler once with a fresh partition reader at offset.
func (c *claimRunner) attempt(ctx context.Context, offset int64) error {
	r := c.k.NewPartitionReader(c.topic, c.partition)
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return fmt.Errorf("partition %d: set offset %d: %w", c.partition, offset, err)
	}
	var done atomic.Bool
	defer done.Store(true)
	return c.h(ctx, Claim{
		Topic:     c.topic,
		Partition: c.partition,
		Offset:    offset,
		Assigned:  c.assigned,
		Reader:    r,
		Commit: func(next int64) error {
			if done.Load() {
				return errors.New("commit after the partition handler returned")
			}
			if next < 0 {
				return fmt.Errorf("commit offset %d of partition %d", next, c.partition)
			}
			if err := c.commit(c.partition, next); err != nil {
				return fmt.Errorf("commit offset %d of partition %d: %w", next, c.partition, err)
			}
			c.next.Store(next)
			return nil
		},
	})
}

// newConsumerGroup joins group as a consumer of topics with the Config's
// group timings, the sticky assignment first (range for members that lack
// it) and offsets from the first one where none is committed: the one setup
// of RunPartitioned and GroupReader.
func (k *Client) newConsumerGroup(group string, topics []string, sticky *stickyBalancer) (*kafkago.ConsumerGroup, error) {
	o := &k.cfg
	return kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                group,
		GroupBalancers:    []kafkago.GroupBalancer{sticky, kafkago.RangeGroupBalancer{}},
		Brokers:           o.Brokers,
		Dialer:            k.dialer,
		Topics:            topics,
		HeartbeatInterval: o.HeartbeatInterval,
		SessionTimeout:    o.SessionTimeout,
		RebalanceTimeout:  o.RebalanceTimeout,
		JoinGroupBackoff:  o.RetryBackoff,
		StartOffset:       kafkago.FirstOffset,
		ErrorLogger:       k.errorLogger("group " + group),
	})
}
