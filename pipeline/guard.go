package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/scoring/guard"
	"healthcode/sources"
)

// overrideAuditRetention is how long hc.override-audit keeps what the guard
// restores from: the longest override and two of the longest window, at
// least a week, and a week more.
func overrideAuditRetention(p *scoring.Policy) time.Duration {
	r := &p.Overrides
	return max(r.MaxUntil.Std(), 2*r.LongestWindow(), 7*24*time.Hour) + 7*24*time.Hour
}

// guardStage is the override guard: one consumer of hc.overrides (one
// partition, keyed by officer pseudonym), deciding every override under the
// policy's override rules and windows (scoring/guard). Accepted overrides go
// to the person's partition of hc.person-events; every decision and alert
// goes to hc.override-audit, from which the guard restores its windows on
// assignment (docs/overrides.md).
type guardStage struct {
	o      *Options
	kc     *kafka.Client
	events *kafka.Writer
	audit  *kafka.Writer
	dead   *kafka.Writer
}

func newGuard(o *Options, kc *kafka.Client) *guardStage {
	return &guardStage{o: o, kc: kc,
		events: kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{}),
		audit:  kc.NewWriter(o.Topics.OverrideAudit, kafka.PartitionBalancer{}),
		dead:   kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{})}
}

func (s *guardStage) run(ctx context.Context) error {
	defer s.events.Close()
	defer s.audit.Close()
	defer s.dead.Close()
	// Every alert reason is exported at 0 from New (observe_zero.go).
	return s.kc.RunPartitioned(ctx, s.o.group(StageGuard), s.o.Topics.Overrides, s.partition)
}

// guardPart is the owned partition of hc.overrides.
type guardPart struct {
	s    *guardStage
	p    int
	g    *guard.Guard
	clk  sourceClock // the event clock, from ingest's ticks (override_clock.go)
	out  guard.Output
	dead []kafka.Message
	log  *slog.Logger
	// warned: the partition count was unreadable (logged once)
	warned bool
	// waiting are the overrides read, in offset order, that may still wait
	// for the event clock: the partition is committed only up to the first
	// of them (commitTo).
	waiting []waitingOverride
}

// waitingOverride is an override read from hc.overrides at offset.
type waitingOverride struct {
	source, id string
	offset     int64
}

func (s *guardStage) partition(ctx context.Context, c kafka.Claim) error {
	// The batch in hand is finished under fin when ctx ends (shutdown.go).
	fin, finDone := finishing(ctx, s.o.ShutdownTimeout)
	defer finDone()
	ob := s.o.Metrics.claim(StageGuard, c.Partition)
	defer ob.release()
	gp := &guardPart{s: s, p: c.Partition, log: s.o.Logger.With(slog.String("stage", StageGuard)),
		g: guard.New(s.o.Policy, guard.Options{Settle: s.o.OverrideSettle, Keep: overrideAuditRetention(s.o.Policy)})}
	start := time.Now()
	if err := gp.restore(ctx, c.Offset); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while restoring: nothing is in hand
		}
		return fmt.Errorf("partition %d: restore: %w", c.Partition, err)
	}
	ob.restored(start)
	gp.log.Info("override guard restored", slog.Int("pending", gp.g.Pending()), slog.Int("held", gp.g.HeldCount()),
		slog.Duration("took", time.Since(start)))
	var buf []kafka.Message
	committed := c.Offset
	for {
		msgs, err := kafka.FetchBatchWithin(ctx, c.Reader, 1000, s.o.Linger, time.Second, buf[:0]) // wall mode decides on the clock alone
		t0 := time.Now()
		if ctx.Err() != nil && len(msgs) == 0 {
			return nil // stopped between batches
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("partition %d: fetch: %w", c.Partition, err)
		}
		buf = msgs
		for i := range msgs {
			gp.apply(ctx, &msgs[i])
		}
		now, err := gp.now(ctx)
		if err != nil {
			return fmt.Errorf("partition %d: %w", c.Partition, err)
		}
		gp.g.Advance(now, &gp.out)
		if err := gp.flush(fin); err != nil {
			if s.o.droppedAtDeadline(fin, StageGuard, c.Partition) {
				return nil
			}
			return fmt.Errorf("partition %d: %w", c.Partition, err)
		}
		if len(msgs) > 0 {
			if next := gp.commitTo(msgs[len(msgs)-1].Offset + 1); next > committed {
				if err := c.Commit(next); err != nil {
					return fmt.Errorf("partition %d: commit: %w", c.Partition, err)
				}
				committed = next
			}
		}
		s.o.Metrics.consumed(StageGuard, t0, msgs)
	}
}

// now is the guard's clock: the event clock ingest ticks, or the wall clock.
func (gp *guardPart) now(ctx context.Context) (scoring.Time, error) {
	if gp.s.o.Clock == ClockEvent {
		gp.partitions(ctx)
		t, _ := gp.clk.now()
		return t, nil
	}
	t, err := scoring.TimeOf(gp.s.o.Now())
	if err != nil {
		return 0, fmt.Errorf("wall clock: %w", err)
	}
	return t, nil
}

func (gp *guardPart) apply(ctx context.Context, m *kafka.Message) {
	r, err := wire.DecodeOverrideRecord(m.Value)
	if err != nil {
		gp.dead = append(gp.dead, deadLetter(m, err))
		return
	}
	if r.Override == nil {
		gp.clk.apply(&r)
		if gp.s.o.Clock != ClockEvent {
			return
		}
		gp.partitions(ctx)
		if t, all := gp.clk.now(); all {
			// Every partition of src.overrides was forwarded to its end
			// and ingest had no input for a second: none older than the
			// clock can follow, so what is due need not settle.
			gp.g.DecideUpTo(t, &gp.out)
		}
		return
	}
	gp.g.Add(*r.Override)
	if gp.s.o.Clock == ClockEvent {
		gp.waiting = append(gp.waiting, waitingOverride{r.Override.Source, r.Override.ID, m.Offset})
	}
}

// commitTo returns the offset to commit after a batch that ends before
// next: next, or in event-clock mode the offset of the first override read
// that still waits for the clock. A pipeline whose lag is 0 has then decided
// every override it read (the guard's lag counts those waiting), and a
// restart reads them again instead of restoring them.
func (gp *guardPart) commitTo(next int64) int64 {
	n := 0
	for n < len(gp.waiting) && !gp.g.Waiting(gp.waiting[n].source, gp.waiting[n].id) {
		n++
	}
	gp.waiting = append(gp.waiting[:0], gp.waiting[n:]...)
	if len(gp.waiting) > 0 {
		return min(next, gp.waiting[0].offset)
	}
	return next
}

// partitions reads the partition count of src.overrides for the clock when
// it is not known yet (or grew); until it is, the clock waits.
func (gp *guardPart) partitions(ctx context.Context) {
	if !gp.clk.wants() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := gp.s.kc.PartitionCount(ctx, gp.s.o.Topics.Sources[sources.StreamOverrides])
	if err != nil {
		if !gp.warned && ctx.Err() == nil {
			gp.log.Warn("override guard: partitions of the overrides topic unreadable; the clock waits", slog.Any("error", err))
			gp.warned = true
		}
		return
	}
	gp.clk.n = n
}

// restore rebuilds the guard: its decisions and alerts from hc.override-audit,
// then the overrides and ticks of hc.overrides before the committed offset
// (those not yet decided wait again; the others are ignored).
func (gp *guardPart) restore(ctx context.Context, committed int64) error {
	o := gp.s.o
	ends, err := gp.s.kc.EndOffsets(ctx, o.Topics.OverrideAudit, 0)
	if err != nil {
		return err
	}
	bad := 0
	err = gp.s.kc.Replay(ctx, o.Topics.OverrideAudit, 0, ends[0], func(m *kafka.Message) error {
		var rec wire.OverrideAuditRecord
		if err := json.Unmarshal(m.Value, &rec); err != nil || rec.Audit == nil {
			if err != nil {
				bad++ // dead-lettered by the sink that reads it
			}
			return nil
		}
		e, ok, err := rec.Audit.GuardEntry()
		if err != nil {
			bad++
			return nil
		}
		if ok {
			gp.g.Restore(e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if bad > 0 {
		gp.log.Error("override guard: audit records that do not decode were skipped in the restore", slog.Int("records", bad))
	}
	lastTick := false // the last record before the committed offset was a tick
	if committed > 0 {
		err = gp.s.kc.Replay(ctx, o.Topics.Overrides, gp.p, committed, func(m *kafka.Message) error {
			if r, err := wire.DecodeOverrideRecord(m.Value); err == nil {
				if r.Override == nil {
					gp.clk.apply(&r)
				} else {
					gp.g.Add(*r.Override)
				}
				lastTick = r.Override == nil
			}
			return nil // an undecodable record was dead-lettered when first consumed
		})
		if err != nil {
			return err
		}
	}
	gp.g.Restored()
	if o.Clock != ClockEvent {
		return nil
	}
	gp.partitions(ctx)
	t, all := gp.clk.now()
	gp.g.SetClock(t)
	if lastTick && all {
		gp.g.DecideUpTo(t, &gp.out) // written by the first flush
	}
	return nil
}

// flush writes what the guard decided: accepted overrides first (a crash
// before the audit is written decides them again, and the engine applies an
// override once), then the audit and alerts, then dead letters.
func (gp *guardPart) flush(ctx context.Context) error {
	o := gp.s.o
	out := &gp.out
	if len(out.Forward) == 0 && len(out.Entries) == 0 && len(out.Alerts) == 0 && len(gp.dead) == 0 {
		return nil
	}
	perPart := make([][]scoring.Event, o.Partitions)
	for _, ev := range out.Forward {
		p := ev.Person.Partition(o.Partitions)
		perPart[p] = append(perPart[p], ev)
	}
	var evMsgs []kafka.Message
	for p, evs := range perPart {
		evMsgs = appendEventMessages(evMsgs, p, evs, o.eventBudget())
	}
	audit := make([]kafka.Message, 0, len(out.Entries)+len(out.Alerts))
	m := o.OverrideMetrics
	for i := range out.Alerts {
		a := wire.NewOverrideAlert(o.Policy, &out.Alerts[i])
		b, err := json.Marshal(wire.OverrideAuditRecord{Alert: &a})
		if err != nil {
			return fmt.Errorf("encode override alert: %w", err)
		}
		audit = append(audit, kafka.Message{Key: []byte(a.Officer), Value: b})
	}
	for i := range out.Entries {
		a := wire.NewOverrideAudit(o.Policy, &out.Entries[i])
		b, err := json.Marshal(wire.OverrideAuditRecord{Audit: &a})
		if err != nil {
			return fmt.Errorf("encode override audit: %w", err)
		}
		audit = append(audit, kafka.Message{Key: []byte(a.Officer), Value: b})
	}
	outs := []output{{gp.s.events, evMsgs}, {gp.s.audit, audit}, {gp.s.dead, gp.dead}}
	if err := writeInOrder(ctx, outs...); err != nil {
		return err
	}
	o.Metrics.produced(StageGuard, outs...)
	for i := range out.Alerts {
		a := &out.Alerts[i]
		m.Alerts.WithLabelValues(a.Rule.ID).Inc()
		m.Raised.Add(1)
		gp.log.Warn("override alert: overrides held for a second approver", slog.String("rule", a.Rule.ID),
			slog.String("scope", string(a.Rule.By)), slog.Int("count", a.Count), slog.Int("over", a.Rule.Over),
			slog.String("window", a.Rule.Window.String()), slog.String("alert_id", a.ID))
	}
	for _, e := range out.Entries {
		switch e.Decision {
		case guard.Accepted:
			m.Accepted.Add(1)
		case guard.Refused:
			m.Refused.Add(1)
		case guard.Held:
			m.Held.Add(1)
		case guard.Confirmed:
			m.Confirmed.Add(1)
		}
	}
	o.deadLettered(gp.dead)
	out.Forward, out.Entries, out.Alerts = out.Forward[:0], out.Entries[:0], out.Alerts[:0]
	gp.dead = gp.dead[:0]
	return nil
}
