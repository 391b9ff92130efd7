package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// sink is the ClickHouse stage: one consumer group per table family, so a slow
// or absent ClickHouse never stalls scoring. Offsets are committed after the
// insert returns; a redelivered batch is absorbed by the ReplacingMergeTree
// tables' keys.
type sink struct {
	o     *Options
	kc    *kafka.Client
	ch    *clickhouse.Client
	dead  *kafka.Writer
	clock atomic.Uint32 // highest occurred_at inserted (scoring.Time): "now" for retention in event-clock mode
}

func newSink(o *Options, kc *kafka.Client) *sink {
	return &sink{o: o, kc: kc, dead: kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{})}
}

func (s *sink) run(ctx context.Context) error {
	defer s.dead.Close()
	// ClickHouse may be down or still starting: keep trying, without holding
	// up the other stages; the topics keep what is not yet inserted.
	for attempt := 0; ; attempt++ {
		ch, err := clickhouse.Open(ctx, s.o.ClickHouse)
		s.o.Metrics.clickhouseOpened(err)
		if err == nil {
			s.ch = ch
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt%10 == 0 {
			s.o.Logger.Warn("sink: clickhouse unavailable; retrying", slog.Int("attempt", attempt+1), slog.Any("error", err))
		}
		select {
		case <-time.After(min(time.Duration(attempt+1)*500*time.Millisecond, 10*time.Second)):
		case <-ctx.Done():
			return nil
		}
	}
	defer s.ch.Close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.events(ctx) })
	g.Go(func() error { return s.colours(ctx) })
	g.Go(func() error { return s.exposures(ctx) })
	g.Go(func() error { return s.areas(ctx) })
	g.Go(func() error { return s.policies(ctx) })
	g.Go(func() error { return s.journeys(ctx) })
	g.Go(func() error { return s.overrides(ctx) })
	g.Go(func() error { return s.retention(ctx) })
	return g.Wait()
}

// consume runs a fetch-insert-commit loop for one consumer group. prepare
// decodes a batch into the dead letters it holds and the insert that writes
// the rest. The insert returns the dead letters of the rows ClickHouse refused
// (the rest of the batch is written); any other error, an unavailable server,
// makes it retry the batch with backoff. Dead letters are written once, and
// the batch is committed after both.
func (s *sink) consume(ctx context.Context, group, topic string, prepare func([]kafka.Message) (dead []kafka.Message, insert func(context.Context) ([]kafka.Message, error))) error {
	r := s.kc.NewGroupReader(ctx, group, topic)
	defer r.Close()
	// Told to stop, the batch in hand is inserted and committed under fin
	// (shutdown.go); Close then sends the offset.
	fin, finDone := finishing(ctx, s.o.ShutdownTimeout)
	defer finDone()
	var buf []kafka.Message
	for {
		msgs, err := kafka.FetchBatch(ctx, r, s.o.SinkBatch, s.o.SinkLinger, buf[:0])
		if len(msgs) == 0 || (err != nil && ctx.Err() == nil) {
			return ignoreCancel(err)
		}
		buf = msgs
		t0 := time.Now()
		dead, insert := prepare(msgs)
		inserted := false
		for attempt := 0; ; attempt++ {
			err = nil
			if !inserted {
				var refused []kafka.Message
				refused, err = insert(fin)
				s.o.Metrics.inserted(fin, strings.TrimPrefix(group, s.o.GroupPrefix), err)
				if err == nil {
					inserted = true
					dead = append(dead, refused...)
				}
			}
			if err == nil && len(dead) > 0 {
				if err = s.writeDead(fin, dead); err == nil {
					dead = nil
				}
			}
			if err == nil || fin.Err() != nil {
				break
			}
			// ClickHouse may be restarting: keep the batch, back off, retry.
			if attempt%10 == 0 {
				s.o.Logger.Warn("clickhouse insert failed; retrying", slog.String("group", group), slog.Int("attempt", attempt+1), slog.Any("error", err))
			}
			select {
			case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
			case <-fin.Done():
			}
		}
		if err == nil {
			err = r.CommitMessages(fin, msgs...)
		}
		if err != nil {
			if s.o.droppedAtDeadline(fin, StageSink, -1) {
				return nil
			}
			return fmt.Errorf("%s: commit: %w", group, err)
		}
		s.o.Metrics.consumed(StageSink, t0, msgs)
	}
}

func (s *sink) events(ctx context.Context) error {
	var evs []scoring.Event
	var meta []clickhouse.EventMeta
	var src []int // src[i]: the message evs[i] came from
	var dec []scoring.Event
	return s.consume(ctx, s.o.group(StageSink+"-events"), s.o.Topics.PersonEvents, func(msgs []kafka.Message) ([]kafka.Message, func(context.Context) ([]kafka.Message, error)) {
		evs, meta, src = evs[:0], meta[:0], src[:0]
		var dead []kafka.Message
		for i := range msgs {
			m := &msgs[i]
			var err error
			dec, err = wire.DecodeEvents(m.Value, dec[:0])
			if err != nil {
				dead = append(dead, deadLetter(m, fmt.Errorf("decode person events: %w", err)))
				continue
			}
			for _, ev := range dec {
				if ev.Kind == scoring.KindTick || ev.Kind == scoring.KindArea || ev.Kind == scoring.KindMark {
					continue // clock ticks and broadcast designations are not person events
				}
				if uint32(ev.At) > s.clock.Load() {
					s.clock.Store(uint32(ev.At))
				}
				evs = append(evs, ev)
				meta = append(meta, clickhouse.EventMeta{Topic: m.Topic, Partition: int32(m.Partition), Offset: m.Offset})
				src = append(src, i)
			}
		}
		return dead, func(ctx context.Context) ([]kafka.Message, error) {
			if len(evs) == 0 {
				return nil, nil
			}
			refused, err := refusedRows(s.ch.WriteEvents(ctx, meta, evs))
			if err != nil {
				return nil, err
			}
			s.o.Metrics.EventRows.Add(int64(len(evs) - len(refused)))
			return refusedEventLetters(msgs, src, evs, refused), nil
		}
	})
}

func (s *sink) colours(ctx context.Context) error {
	return consumeJSON(ctx, s, StageSink+"-colours", s.o.Topics.ColourUpdates, "colour update", s.ch.WriteColourUpdates, &s.o.Metrics.ColourRows)
}

func (s *sink) exposures(ctx context.Context) error {
	return consumeJSON(ctx, s, StageSink+"-exposures", s.o.Topics.Exposures, "exposure", s.ch.WriteExposures, &s.o.Metrics.ExposureRows)
}

// consumeJSON inserts the JSON records of topic (colour updates, exposures)
// with write, batch by batch; a record that does not decode, or that
// ClickHouse refuses, goes to the dead-letter topic with the reason.
func consumeJSON[T any](ctx context.Context, s *sink, group, topic, what string, write func(context.Context, []T) error, rows *atomic.Int64) error {
	var recs []T
	var src []int // src[i]: the message recs[i] came from
	return s.consume(ctx, s.o.group(group), topic, func(msgs []kafka.Message) ([]kafka.Message, func(context.Context) ([]kafka.Message, error)) {
		recs, src = recs[:0], src[:0]
		var dead []kafka.Message
		for i := range msgs {
			var rec T
			if err := json.Unmarshal(msgs[i].Value, &rec); err != nil {
				dead = append(dead, deadLetter(&msgs[i], fmt.Errorf("decode %s: %w", what, err)))
				continue
			}
			recs = append(recs, rec)
			src = append(src, i)
		}
		return dead, func(ctx context.Context) ([]kafka.Message, error) {
			if len(recs) == 0 {
				return nil, nil
			}
			refused, err := refusedRows(write(ctx, recs))
			if err != nil {
				return nil, err
			}
			rows.Add(int64(len(recs) - len(refused)))
			return refusedRecordLetters(msgs, src, refused), nil
		}
	})
}

func (s *sink) writeDead(ctx context.Context, dead []kafka.Message) error {
	if len(dead) == 0 {
		return nil
	}
	if err := kafka.Write(ctx, s.dead, dead...); err != nil {
		return fmt.Errorf("sink: write dead letters: %w", err)
	}
	s.o.Metrics.produced(StageSink, output{s.dead, dead})
	s.o.deadLettered(dead)
	return nil
}

// retention drops ClickHouse partitions past the retention period, judged
// against the wall clock, or in event-clock mode against the latest event
// inserted (a replay of 2020 must not delete itself). It runs at start and then
// every interval.
func (s *sink) retention(ctx context.Context) error {
	every := 6 * time.Hour
	if s.o.Clock == ClockEvent {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := s.o.Now()
		if s.o.Clock == ClockEvent {
			now = scoring.Time(s.clock.Load()).Std()
		}
		var n int
		var err error
		if !now.IsZero() {
			n, err = s.ch.DropExpired(ctx, now)
		}
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("retention: drop expired partitions", slog.Any("error", err))
		} else if n > 0 {
			s.o.Logger.Info("retention: dropped expired partitions", slog.Int("partitions", n))
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}
