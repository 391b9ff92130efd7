package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
	"healthcode/sinks"
)

// score is the scoring stage. Each owned partition of hc.person-events gets an
// engine, restored from the changelog before any new input, and one goroutine.
type score struct {
	o        *Options
	kc       *kafka.Client
	hub      *areaHub
	policies *policyHub
	presence *kafka.Writer
	updates  *kafka.Writer
	journeys *kafka.Writer // hc.journeys (journeys.go)
	state    *kafka.Writer
	dead     *kafka.Writer
	audit    *kafka.Writer     // hc.override-audit: what an override did (override_score.go)
	kept     stateCache[*part] // engines kept across rebalances (statecache.go)
}

func newScore(o *Options, kc *kafka.Client, policies *policyHub) *score {
	return &score{
		o:        o,
		kc:       kc,
		hub:      newAreaHub(),
		policies: policies,
		presence: kc.NewWriter(o.Topics.Presence, kafka.PartitionBalancer{}),
		updates:  kc.NewWriter(o.Topics.ColourUpdates, &kafka.Murmur2Balancer{}),
		journeys: kc.NewWriter(o.Topics.Journeys, &kafka.Murmur2Balancer{}),
		state:    kc.NewWriter(o.Topics.State, kafka.PartitionBalancer{}),
		dead:     kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{}),
		audit:    kc.NewWriter(o.Topics.OverrideAudit, kafka.PartitionBalancer{}),
	}
}

func (s *score) run(ctx context.Context) error {
	defer s.updates.Close()
	defer s.journeys.Close()
	defer s.presence.Close()
	defer s.state.Close()
	defer s.dead.Close()
	defer s.audit.Close()
	// The area hub and the partitions live and die together: partitions wait
	// for the hub to be ready, so a hub that fails must stop them too.
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.hub.run(ctx, s.o, s.kc) })
	g.Go(func() error {
		return s.kc.RunPartitioned(ctx, s.o.group(StageScore), s.o.Topics.PersonEvents, s.partition)
	})
	return g.Wait()
}

// part is the state of one owned partition.
type part struct {
	s        *score
	p        int
	eng      *scoring.Engine
	clock    scoring.Time // event clock: highest occurred_at seen
	wall     scoring.Time // last wall-clock reading in range (ClockWall)
	wallErr  error        // a wall-clock reading out of range: fails the batch
	areasAt  int          // designations of the hub applied so far
	skipTo   int64        // offsets below this are already reflected in restored state
	held     []heldEvent  // events waiting for the watermark (Options.Lateness; lateness.go)
	readTo   int64        // the offset after the last message read, while events are held
	arrived  uint8        // the earliest hop held since the last fetch (lateness.go)
	quietFor [hops]int    // per hop, fetches in a row without input of it or before it
	hop1Ago  int          // fetches since exposures of hop 1 were applied by their quiet
	updates  []scoring.Update
	evs      []scoring.Event
	out      []kafka.Message
	places   [][]scoring.Event // presences, marks and designations per hc.presence partition
	stateB   []kafka.Message
	dead     []kafka.Message
	audit    []kafka.Message // override audit entries (override_score.go)
}

func (s *score) partition(ctx context.Context, c kafka.Claim) error {
	log := s.o.Logger.With(slog.String("stage", StageScore), slog.Int("partition", c.Partition))
	// The batch in hand is finished under fin when ctx ends (shutdown.go).
	fin, finDone := finishing(ctx, s.o.ShutdownTimeout)
	defer finDone()
	ob := s.o.Metrics.claim(StageScore, c.Partition)
	defer ob.release()
	start := time.Now()
	committed := c.Offset // the state stands here between batches
	pt := s.reuse(ctx, c, log)
	if pt == nil {
		pt = &part{s: s, p: c.Partition, eng: s.o.newEngine()}
		if err := pt.restore(ctx); err != nil {
			return fmt.Errorf("partition %d: restore: %w", c.Partition, err)
		}
		s.o.Metrics.PartitionRestores.Add(1)
		log.Info("partition restored", slog.Int("persons", pt.eng.Len()), slog.Int64("skip_to", pt.skipTo),
			slog.Int64("committed", c.Offset), slog.Duration("took", time.Since(start)))
	}
	for _, ready := range []gate{s.hub.ready, s.policies.ready} {
		if err := ready.wait(ctx); err != nil {
			if ctx.Err() != nil {
				s.keep(fin, pt, committed)
				return nil
			}
			return fmt.Errorf("partition %d: %w", c.Partition, err)
		}
	}
	ob.restored(start)
	ob.held(pt.eng.Len())
	// The designations of hc.area-risk this engine has not seen: all of them
	// after a restore. Those that come later reach the partition on
	// hc.person-events too, in order with the events decoded after them, and
	// are applied there, so that where they fall among a person's events
	// does not depend on when the hub read them.
	fresh := s.hub.since(pt.areasAt)
	pt.updates = pt.eng.AddDesignations(fresh, pt.now(), pt.updates)
	pt.areasAt += len(fresh)

	var buf []kafka.Message
	for {
		wait := time.Second
		if s.o.Clock == ClockWall {
			if next := pt.eng.NextTimer(); next != 0 {
				wait = min(wait, max(time.Until(next.Std()), time.Millisecond))
			}
		}
		msgs, err := kafka.FetchBatchWithin(ctx, c.Reader, 1000, s.o.Linger, wait, buf[:0])
		t0 := time.Now()
		if ctx.Err() != nil && len(msgs) == 0 {
			s.keep(fin, pt, committed) // stopped between batches: the state is exact
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("partition %d: fetch: %w", c.Partition, err)
		}
		buf = msgs
		// A new policy: recompute everyone under it, before the batch. Read
		// after the fetch, so an exposure the tracer derived under a policy
		// this process's hub already had is applied under it too.
		if p := s.policies.Policy(); p != pt.eng.Policy() {
			pt.updates = pt.eng.SetPolicy(p, pt.now(), pt.updates)
		}
		next := int64(-1)
		for i := range msgs {
			m := &msgs[i]
			next = m.Offset + 1
			if m.Offset < pt.skipTo {
				s.o.Metrics.SkippedOffsets.Add(1)
				continue
			}
			pt.applyMessage(m)
		}
		if pt.holding() {
			// Apply what the watermark passed (all of it when no input
			// came), and commit up to the first message with an event
			// still held (lateness.go).
			pt.fetched()
			next = pt.release(next, committed)
		}
		pt.updates = pt.eng.Advance(pt.settled(), pt.updates)
		if pt.wallErr != nil {
			// Nothing of the batch is written or committed; the partition
			// restarts from its changelog after a backoff.
			return fmt.Errorf("partition %d: %w", c.Partition, pt.wallErr)
		}
		if err := pt.flush(fin, next); err != nil {
			if s.o.droppedAtDeadline(fin, StageScore, c.Partition) {
				return nil
			}
			return err
		}
		s.o.Metrics.updatesWritten(msgs, pt.out)
		if next >= 0 {
			if err := c.Commit(next); err != nil {
				return fmt.Errorf("partition %d: commit: %w", c.Partition, err)
			}
			committed = next
		}
		s.o.Metrics.consumed(StageScore, t0, msgs)
		ob.held(pt.eng.Len())
		if pt.holding() {
			ob.holding(len(pt.held))
		}
	}
}

// now is the decision time: the wall clock, or the partition's event clock.
// A wall clock outside scoring's range (a broken system clock) must not fire
// every timer: the error is kept in wallErr, which fails the batch before any
// of it is written, and the last reading in range stands in meanwhile.
func (pt *part) now() scoring.Time {
	if pt.s.o.Clock == ClockWall {
		t, err := scoring.TimeOf(pt.s.o.Now())
		if err != nil {
			if pt.wallErr == nil {
				pt.wallErr = fmt.Errorf("wall clock: %w", err)
			}
			return pt.wall
		}
		pt.wall = t
		return t
	}
	return pt.clock
}

func (pt *part) applyMessage(m *kafka.Message) {
	var err error
	pt.evs, err = wire.DecodeEvents(m.Value, pt.evs[:0])
	if err != nil {
		pt.dead = append(pt.dead, deadLetter(m, fmt.Errorf("decode person events: %w", err)))
		return
	}
	for i := range pt.evs {
		ev := &pt.evs[i]
		if pt.holding() {
			pt.hold(m, ev) // applied once the watermark passes it (lateness.go)
			continue
		}
		pt.applyEvent(m, ev)
	}
}

// applyEvent applies one event of message m.
func (pt *part) applyEvent(m *kafka.Message, ev *scoring.Event) {
	// The event clock is the highest occurred_at seen UPSTREAM. An
	// exposure is internal and may be dated ahead of it (area risk counts
	// from the end of a stay), so it never moves the clock.
	if ev.At > pt.clock && ev.Kind != scoring.KindExposure {
		pt.clock = ev.At
		if pt.s.o.Clock == ClockEvent {
			// Fire what fell due before this event, so each change is
			// dated at its own review time.
			pt.updates = pt.eng.Advance(pt.clock, pt.updates)
		}
	}
	switch ev.Kind {
	case scoring.KindTick:
		return
	case scoring.KindArea:
		pt.updates = pt.eng.AddDesignation(ev.Designation(), pt.now(), pt.updates)
		// Every scoring partition gets every designation; one of them
		// forwards it to every place partition for retroactive matching.
		if pt.p == 0 {
			pt.broadcast(*ev)
		}
		return
	}
	pt.s.o.Metrics.EventsScored.Add(1)
	before := len(pt.updates)
	ob := pt.beforeOverride(ev)
	var err error
	pt.updates, err = pt.eng.Apply(ev, pt.now(), pt.updates)
	if err != nil {
		one, encErr := wire.EncodeEvents([]scoring.Event{*ev})
		if encErr != nil {
			one = nil
		}
		bad := *m
		bad.Value = one
		pt.dead = append(pt.dead, deadLetter(&bad, err))
		pt.updates = pt.updates[:before]
		return
	}
	pt.auditOverride(ev, ob)
	pt.route(ev)
}

// route re-keys an applied event's presences by place, and broadcasts the
// marks it raised, for the tracing stage.
func (pt *part) route(ev *scoring.Event) {
	n := pt.s.o.Partitions
	if pt.places == nil {
		pt.places = make([][]scoring.Event, n)
	}
	switch ev.Kind {
	case scoring.KindCheckin, scoring.KindTravel, scoring.KindArrival:
		for _, pr := range tracing.PresencesOf(ev, pt.eng.Policy()) {
			routed := *ev
			routed.Sub = uint8(pr.Kind) // which of the event's presences this copy is for
			p := placePartition(pr.PlaceKey(), n)
			pt.places[p] = append(pt.places[p], routed)
			pt.s.o.Metrics.Presences.Add(1)
		}
	}
	for _, m := range pt.eng.TakeMarks() {
		pt.broadcast(scoring.MarkEvent(m))
		pt.s.o.Metrics.Marks.Add(1)
	}
}

func (pt *part) broadcast(ev scoring.Event) {
	if pt.places == nil {
		pt.places = make([][]scoring.Event, pt.s.o.Partitions)
	}
	for p := range pt.places {
		pt.places[p] = append(pt.places[p], ev)
	}
}

// flush writes the batch's colour updates, dead letters and state records, and
// returns once all are acknowledged. Only then may the input offset be
// committed. next < 0 means no input was consumed.
func (pt *part) flush(ctx context.Context, next int64) error {
	o := pt.s.o
	pt.out = pt.out[:0]
	for i := range pt.updates {
		u := &pt.updates[i]
		cu := sinks.NewColourUpdate(pt.eng.Policy(), u, o.Zone)
		b, err := json.Marshal(cu)
		if err != nil {
			return fmt.Errorf("encode colour update: %w", err)
		}
		pt.out = append(pt.out, kafka.Message{Key: []byte(cu.PersonKey), Value: b})
	}
	journeyMsgs, err := pt.journeyMessages()
	if err != nil {
		return err
	}
	var placeMsgs []kafka.Message
	for p, evs := range pt.places {
		placeMsgs = appendEventMessages(placeMsgs, p, evs, o.eventBudget())
		pt.places[p] = evs[:0]
	}
	pt.stateB = pt.stateB[:0]
	missing := 0
	for _, k := range pt.eng.TakeDirty() {
		rec, ok := pt.eng.AppendState(nil, k)
		if !ok {
			// A nil value would be a tombstone on the compacted changelog: a
			// silent deletion of the person's state. Keep the last record.
			missing++
			continue
		}
		pt.stateB = append(pt.stateB, kafka.Message{Partition: pt.p, Key: append([]byte(nil), k[:]...), Value: rec})
	}
	if missing > 0 {
		o.Logger.Error("scoring: dirty persons without state; their last state records are kept",
			slog.Int("partition", pt.p), slog.Int("persons", missing))
	}
	// The marker goes in a write of its own, after the person records are
	// acknowledged: a marker must never claim records that were not written.
	var markerMsg []kafka.Message
	if next >= 0 {
		marker, err := wire.EncodeMarker(wire.Marker{Next: next, Clock: pt.clock})
		if err != nil {
			return fmt.Errorf("partition %d: %w", pt.p, err)
		}
		markerMsg = []kafka.Message{{Partition: pt.p, Key: wire.MarkerKey(), Value: marker}}
	}
	// Updates before state: if the process dies in between, the restored state
	// re-derives and re-sends the same versions, which consumers absorb. The
	// outputs the state depends on are written at once (one round trip),
	// then the state records, then the marker.
	if err := writeAll(ctx, output{pt.s.updates, pt.out}, output{pt.s.journeys, journeyMsgs}, output{pt.s.presence, placeMsgs},
		output{pt.s.audit, pt.audit}, output{pt.s.dead, pt.dead}); err != nil {
		return fmt.Errorf("partition %d: %w", pt.p, err)
	}
	if err := writeInOrder(ctx, output{pt.s.state, pt.stateB}, output{pt.s.state, markerMsg}); err != nil {
		return fmt.Errorf("partition %d: %w", pt.p, err)
	}
	o.Metrics.produced(StageScore, output{pt.s.updates, pt.out}, output{pt.s.journeys, journeyMsgs}, output{pt.s.presence, placeMsgs},
		output{pt.s.audit, pt.audit}, output{pt.s.dead, pt.dead}, output{pt.s.state, pt.stateB}, output{pt.s.state, markerMsg})
	o.Metrics.Updates.Add(int64(len(pt.out)))
	o.Metrics.Journeys.Add(int64(len(journeyMsgs)))
	o.Metrics.StateRecords.Add(int64(len(pt.stateB) + len(markerMsg)))
	o.deadLettered(pt.dead)
	pt.updates = pt.updates[:0]
	pt.dead = pt.dead[:0]
	pt.audit = pt.audit[:0]
	return nil
}

// restore loads the partition's changelog (hc.scoring-state, same partition
// number) to its end: every person's last state record, and the offset marker.
func (pt *part) restore(ctx context.Context) error {
	o := pt.s.o
	ends, err := pt.s.kc.EndOffsets(ctx, o.Topics.State, pt.p)
	if err != nil {
		return err
	}
	var bad badRecords // undecodable records: skipped, then dead-lettered (restore.go)
	err = pt.s.kc.Replay(ctx, o.Topics.State, pt.p, ends[pt.p], func(m *kafka.Message) error {
		switch {
		case wire.IsMarkerKey(m.Key):
			mk, err := wire.DecodeMarker(m.Value)
			if err != nil {
				// Without the marker, input already reflected is applied
				// again, which is idempotent: slower, never wrong.
				bad.add(m, fmt.Errorf("decode changelog marker: %w", err))
				return nil
			}
			pt.skipTo = mk.Next
			pt.clock = max(pt.clock, mk.Clock)
		case len(m.Value) > 0:
			if _, err := pt.eng.LoadState(m.Value); err != nil {
				bad.add(m, fmt.Errorf("decode state record: %w", err))
				return nil
			}
			o.Metrics.Restored.Add(1)
		}
		bad.superseded(m.Key)
		return nil
	})
	pt.eng.TakeDirty() // restored state is already in the changelog
	if err != nil {
		return err
	}
	return pt.settle(ctx, &bad)
}
