package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// placePartition maps a place key to a partition of hc.presence.
func placePartition(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// trace is the contact-tracing stage: presences re-keyed by place, so finding
// everyone who shared a venue, an H3 cell or a flight with a case is local to
// one place partition. Each owned partition holds a tracing.Tracer. Its index
// is rebuilt on assignment by replaying the partition (retention of
// hc.presence covers the look-back) with output suppressed up to the
// committed offset, whose exposures were already sent.
type trace struct {
	o         *Options
	kc        *kafka.Client
	events    *kafka.Writer // exposures as person events, back into hc.person-events
	exposures *kafka.Writer // hc.exposures, for ClickHouse
	presence  *kafka.Writer // presences forwarded to the partition of their cell (tracepolicy.go)
	dead      *kafka.Writer
	policies  *policyHub
	kept      stateCache[*tracePart] // indexes kept across rebalances (statecache.go)
}

func newTrace(o *Options, kc *kafka.Client, policies *policyHub) *trace {
	return &trace{
		o:         o,
		kc:        kc,
		policies:  policies,
		presence:  kc.NewWriter(o.Topics.Presence, kafka.PartitionBalancer{}),
		events:    kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{}),
		exposures: kc.NewWriter(o.Topics.Exposures, &kafka.Murmur2Balancer{}),
		dead:      kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{}),
	}
}

func (t *trace) run(ctx context.Context) error {
	defer t.events.Close()
	defer t.exposures.Close()
	defer t.presence.Close()
	defer t.dead.Close()
	return t.kc.RunPartitioned(ctx, t.o.group(StageTrace), t.o.Topics.Presence, t.partition)
}

// tracePart is one owned partition of hc.presence.
type tracePart struct {
	t       *trace
	p       int
	tr      *tracing.Tracer
	pol     *scoring.Policy // the policy tr was built for
	next    int64           // the offset after the last message applied
	replay  bool            // rebuilding: cell presences of another partition are skipped, not forwarded
	forward [][]scoring.Event
	clock   scoring.Time
	expired scoring.Time
	evs     []scoring.Event
	found   []tracing.Exposure
	dead    []kafka.Message
}

func (t *trace) partition(ctx context.Context, c kafka.Claim) error {
	log := t.o.Logger.With(slog.String("stage", StageTrace), slog.Int("partition", c.Partition))
	ob := t.o.Metrics.claim(StageTrace, c.Partition)
	defer ob.release()
	start := time.Now()
	// The contact parameters are those of the policy in force: read hc.policy first.
	if err := t.policies.ready.wait(ctx); err != nil {
		return ignoreCancel(fmt.Errorf("partition %d: %w", c.Partition, err))
	}
	// The batch in hand is finished under fin when ctx ends (shutdown.go).
	fin, finDone := finishing(ctx, t.o.ShutdownTimeout)
	defer finDone()
	tp := t.reuse(c, log)
	if tp == nil {
		tp = &tracePart{t: t, p: c.Partition, next: c.Offset}
		tp.pol = t.policies.Policy()
		tp.tr = tracing.New(tp.pol, tracing.Options{})
		if err := tp.rebuild(ctx, c.Offset); err != nil {
			return fmt.Errorf("partition %d: rebuild: %w", c.Partition, err)
		}
		tp.tr.Expire(tp.clock)
		tp.expired = tp.clock
		t.o.Metrics.PartitionRestores.Add(1)
		log.Info("place index rebuilt", slog.Int("presences", tp.tr.Len()), slog.Int64("committed", c.Offset), slog.Duration("took", time.Since(start)))
	}
	ob.restored(start)
	var buf []kafka.Message
	for {
		if ctx.Err() == nil {
			if err := tp.followPolicy(ctx, log); err != nil {
				return err
			}
		}
		// Wake at least once a second to follow a published policy.
		msgs, err := kafka.FetchBatchWithin(ctx, c.Reader, 1000, t.o.Linger, time.Second, buf[:0])
		if ctx.Err() != nil && len(msgs) == 0 {
			t.keep(tp, tp.next) // stopped between batches: the index is exact
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("partition %d: fetch: %w", c.Partition, err)
		}
		buf = msgs
		t0 := time.Now()
		for i := range msgs {
			tp.apply(&msgs[i])
		}
		if err := tp.flush(fin); err != nil {
			if t.o.droppedAtDeadline(fin, StageTrace, c.Partition) {
				return nil
			}
			return err
		}
		if len(msgs) > 0 {
			tp.next = msgs[len(msgs)-1].Offset + 1
			if err := c.Commit(tp.next); err != nil {
				return fmt.Errorf("partition %d: commit: %w", c.Partition, err)
			}
		}
		t.o.Metrics.consumed(StageTrace, t0, msgs)
	}
}

// rebuild replays the partition up to the committed offset into the index,
// discarding the exposures it finds (they were sent before the commit).
func (tp *tracePart) rebuild(ctx context.Context, committed int64) error {
	tp.replay = true
	defer func() { tp.replay = false }()
	return tp.t.kc.Replay(ctx, tp.t.o.Topics.Presence, tp.p, committed, func(m *kafka.Message) error {
		tp.apply(m)
		tp.found, tp.dead = tp.found[:0], tp.dead[:0]
		return nil
	})
}

func (tp *tracePart) apply(m *kafka.Message) {
	var err error
	tp.evs, err = wire.DecodeEvents(m.Value, tp.evs[:0])
	if err != nil {
		tp.dead = append(tp.dead, deadLetter(m, fmt.Errorf("decode presences: %w", err)))
		return
	}
	pol := tp.pol
	for i := range tp.evs {
		ev := &tp.evs[i]
		// Exposure versions follow the partition's offsets, so a rebuild
		// replaying the same messages derives the same versions.
		tp.tr.SetVersion(uint64(m.Offset)<<16 | uint64(i))
		switch ev.Kind {
		case scoring.KindTick:
		case scoring.KindArea:
			tp.found = tp.tr.AddDesignation(ev.Designation(), tp.found)
		case scoring.KindMark:
			mk, err := ev.Mark()
			if err != nil {
				tp.dead = append(tp.dead, deadLetter(m, fmt.Errorf("decode presences: %w", err)))
				continue
			}
			tp.found = tp.tr.AddMark(mk, tp.found)
		case scoring.KindCheckin, scoring.KindTravel, scoring.KindArrival:
			// The event is routed here for one of its presences: Sub names which.
			for _, pr := range tracing.PresencesOf(ev, pol) {
				if uint8(pr.Kind) == ev.Sub && tp.owns(ev, &pr) {
					tp.found = tp.tr.AddPresence(pr, tp.found)
				}
			}
		default:
			tp.dead = append(tp.dead, deadLetter(m, fmt.Errorf("unexpected %v event on %s", ev.Kind, m.Topic)))
			continue
		}
		if ev.At > tp.clock {
			tp.clock = ev.At
		}
	}
}

// flush sends what the batch found and returns once it is acknowledged.
func (tp *tracePart) flush(ctx context.Context) error {
	o := tp.t.o
	// Forget what is older than the look-back, once an hour of event time.
	if tp.clock > tp.expired.Add(time.Hour) {
		tp.tr.Expire(tp.clock)
		tp.expired = tp.clock
	}
	if err := tp.sendForwards(ctx); err != nil {
		return err
	}
	if len(tp.found) == 0 && len(tp.dead) == 0 {
		return nil
	}
	perPart := make([][]scoring.Event, o.Partitions)
	recs := make([]kafka.Message, 0, len(tp.found))
	for i := range tp.found {
		x := &tp.found[i]
		ev := x.Event()
		p := x.Exposed.Partition(o.Partitions)
		perPart[p] = append(perPart[p], ev)
		rec, err := wire.NewExposure(x)
		if err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("trace: encode exposure: %w", err)
		}
		recs = append(recs, kafka.Message{Key: []byte(rec.Exposed), Value: b})
	}
	var evMsgs []kafka.Message
	for p, evs := range perPart {
		evMsgs = appendEventMessages(evMsgs, p, evs, o.eventBudget())
	}
	if err := writeAll(ctx, output{tp.t.exposures, recs}, output{tp.t.events, evMsgs}, output{tp.t.dead, tp.dead}); err != nil {
		return fmt.Errorf("partition %d: %w", tp.p, err)
	}
	o.Metrics.produced(StageTrace, output{tp.t.exposures, recs}, output{tp.t.events, evMsgs}, output{tp.t.dead, tp.dead})
	o.Metrics.Exposures.Add(int64(len(tp.found)))
	o.deadLettered(tp.dead)
	tp.found, tp.dead = tp.found[:0], tp.dead[:0]
	return nil
}
