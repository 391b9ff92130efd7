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
	"healthcode/sinks"
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
	dead      *kafka.Writer
	kept      stateCache[*tracePart] // indexes kept across rebalances (statecache.go)
}

func newTrace(o *Options, kc *kafka.Client) *trace {
	return &trace{
		o:         o,
		kc:        kc,
		events:    kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{}),
		exposures: kc.NewWriter(o.Topics.Exposures, &kafka.Murmur2Balancer{}),
		dead:      kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{}),
	}
}

func (t *trace) run(ctx context.Context) error {
	defer t.events.Close()
	defer t.exposures.Close()
	defer t.dead.Close()
	return t.kc.RunPartitioned(ctx, t.o.group(StageTrace), t.o.Topics.Presence, t.partition)
}

// tracePart is one owned partition of hc.presence.
type tracePart struct {
	t       *trace
	p       int
	tr      *tracing.Tracer
	clock   scoring.Time
	expired scoring.Time
	evs     []scoring.Event
	found   []tracing.Exposure
	dead    []kafka.Message
}

func (t *trace) partition(ctx context.Context, c kafka.Claim) error {
	log := t.o.Logger.With(slog.String("stage", StageTrace), slog.Int("partition", c.Partition))
	// The batch in hand is finished under fin when ctx ends (shutdown.go).
	fin, finDone := finishing(ctx, t.o.ShutdownTimeout)
	defer finDone()
	committed := c.Offset // the index stands here between batches
	tp := t.reuse(c, log)
	if tp == nil {
		tp = &tracePart{t: t, p: c.Partition, tr: tracing.New(t.o.Policy, tracing.Options{})}
		start := time.Now()
		if err := tp.rebuild(ctx, c.Offset); err != nil {
			return fmt.Errorf("partition %d: rebuild: %w", c.Partition, err)
		}
		tp.tr.Expire(tp.clock)
		tp.expired = tp.clock
		t.o.Metrics.PartitionRestores.Add(1)
		log.Info("place index rebuilt", slog.Int("presences", tp.tr.Len()), slog.Int64("committed", c.Offset), slog.Duration("took", time.Since(start)))
	}
	var buf []kafka.Message
	for {
		msgs, err := kafka.FetchBatch(ctx, c.Reader, 1000, t.o.Linger, buf[:0])
		if ctx.Err() != nil && len(msgs) == 0 {
			t.keep(tp, committed) // stopped between batches: the index is exact
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		buf = msgs
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
			next := msgs[len(msgs)-1].Offset + 1
			if err := c.Commit(next); err != nil {
				return fmt.Errorf("partition %d: commit: %w", c.Partition, err)
			}
			committed = next
		}
	}
}

// rebuild replays the partition up to the committed offset into the index,
// discarding the exposures it finds (they were sent before the commit).
func (tp *tracePart) rebuild(ctx context.Context, committed int64) error {
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
	pol := tp.t.o.Policy
	for i := range tp.evs {
		ev := &tp.evs[i]
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
				if uint8(pr.Kind) == ev.Sub {
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
		rec, err := sinks.NewExposure(x)
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
		evMsgs = appendEventMessages(evMsgs, p, evs)
	}
	if err := writeInOrder(ctx, output{tp.t.exposures, recs}, output{tp.t.events, evMsgs}, output{tp.t.dead, tp.dead}); err != nil {
		return fmt.Errorf("partition %d: %w", tp.p, err)
	}
	o.Metrics.Exposures.Add(int64(len(tp.found)))
	o.Metrics.DeadLetters.Add(int64(len(tp.dead)))
	tp.found, tp.dead = tp.found[:0], tp.dead[:0]
	return nil
}
