package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sources"
)

// ingest is the sources stage: it decodes, validates and pseudonymises upstream
// messages and writes person events (batched per partition), area designations
// and dead letters. It is stateless; its consumer group's offsets are committed
// only after everything a batch produced has been acknowledged.
type ingest struct {
	o       *Options
	kc      *kafka.Client
	dec     *sources.Decoder
	hub     *policyHub                // the policy in force: its colours are those an override may name
	decPol  *scoring.Policy           // the policy dec was built for; nil if Options.Decoder.Colours fixes them
	streams map[string]sources.Stream // topic -> stream
	events  *kafka.Writer
	areas   *kafka.Writer
	overs   *kafka.Writer // hc.overrides, for the override guard
	dead    *kafka.Writer
	maxAt   scoring.Time  // highest occurred_at seen (the event clock)
	sentAt  scoring.Time  // the clock last sent to every partition
	ovr     overrideClock // the override guard's clock (override_ingest.go)
}

// ingestOut is what one batch of upstream messages produced.
type ingestOut struct {
	in     []kafka.Message
	events []kafka.Message
	areas  []kafka.Message
	overs  []kafka.Message
	dead   []kafka.Message
	nEv    int
	nOv    int // overrides sent to the guard
}

func newIngest(o *Options, kc *kafka.Client, hub *policyHub) (*ingest, error) {
	in := &ingest{o: o, kc: kc, hub: hub, streams: map[string]sources.Stream{}}
	if err := in.followPolicy(hub.Policy()); err != nil {
		return nil, err
	}
	for s, t := range o.Topics.Sources {
		in.streams[t] = s
	}
	in.events = kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{})
	in.areas = kc.NewWriter(o.Topics.AreaRisk, &kafka.Hash{})
	in.overs = kc.NewWriter(o.Topics.Overrides, kafka.PartitionBalancer{})
	in.dead = kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{})
	return in, nil
}

func (in *ingest) close() error {
	return errors.Join(in.events.Close(), in.areas.Close(), in.overs.Close(), in.dead.Close())
}

func (in *ingest) run(ctx context.Context) error {
	defer in.close()
	topics := make([]string, 0, len(in.streams))
	for t := range in.streams {
		topics = append(topics, t)
	}
	// Overrides name colours of the policy in force: read hc.policy first.
	if err := in.hub.ready.wait(ctx); err != nil {
		return ignoreCancel(fmt.Errorf("ingest: %w", err))
	}
	r := in.kc.NewGroupReader(ctx, in.o.group(StageIngest), topics...)
	defer r.Close()

	// Two steps overlap: while one batch is written and committed, the next is
	// fetched and decoded. Batches stay in order, so commits do too.
	g, ctx := errgroup.WithContext(ctx)
	ready := make(chan *ingestOut, 2)
	// Fetch buffers go round: the writer hands each back once its batch is
	// committed, so none is regrown by append or left to the collector.
	free := make(chan []kafka.Message, cap(ready)+2)
	g.Go(func() error {
		defer close(ready)
		var batch sources.Batch
		for {
			var buf []kafka.Message
			select {
			case buf = <-free:
			default:
				buf = make([]kafka.Message, 0, in.o.IngestBatch)
			}
			msgs, err := in.fetch(ctx, r, buf)
			if err != nil {
				return ignoreCancel(err)
			}
			if err := in.followPolicy(in.hub.Policy()); err != nil {
				return err
			}
			out := in.decode(msgs, &batch)
			stampUpstream(out.events, out.in)
			if in.o.Clock == ClockEvent {
				in.overrideTick(ctx, out, r.Assigned(in.o.Topics.Sources[sources.StreamOverrides]))
			}
			if len(msgs) == 0 && len(out.overs) == 0 {
				continue // idle, and nothing new to tell the override guard
			}
			select {
			case ready <- out:
			case <-ctx.Done():
				return nil
			}
		}
	})
	g.Go(func() error {
		// Told to stop, the writer finishes the batches already decoded
		// under fin (shutdown.go); Close then sends their offsets.
		fin, finDone := finishing(ctx, in.o.ShutdownTimeout)
		defer finDone()
		for out := range ready {
			t0 := time.Now()
			if err := in.write(fin, out); err != nil {
				if in.o.droppedAtDeadline(fin, StageIngest, -1) {
					return nil // commit nothing: delivered again to whoever consumes next
				}
				return err
			}
			if err := r.CommitMessages(fin, out.in...); err != nil {
				if in.o.droppedAtDeadline(fin, StageIngest, -1) {
					return nil
				}
				return fmt.Errorf("ingest: commit: %w", err)
			}
			m := in.o.Metrics
			m.consumed(StageIngest, t0, out.in)
			m.produced(StageIngest, output{in.areas, out.areas}, output{in.events, out.events}, output{in.overs, out.overs}, output{in.dead, out.dead})
			m.UpstreamIn.Add(int64(len(out.in)))
			in.o.deadLettered(out.dead)
			m.PersonEvents.Add(int64(out.nEv))
			m.Designations.Add(int64(len(out.areas)))
			select {
			case free <- out.in[:0]:
			default:
			}
		}
		return nil
	})
	return g.Wait()
}

// idleTick is how long ingest waits for upstream input, in event-clock mode,
// before it looks again for the override guard (override_ingest.go): only
// that idle look reports the partitions of src.overrides at their end, so the
// guard's clock does not wait for input that never comes, yet a partition
// found at its end while input flows (its part of a write may not have landed
// yet) holds the clock. It is also how long a write's parts on different
// partitions may take to land for its overrides to be decided in time order.
const idleTick = time.Second

// fetch returns the next batch of upstream messages. In event-clock mode it
// returns an empty batch after idleTick without input.
func (in *ingest) fetch(ctx context.Context, r *kafka.GroupReader, buf []kafka.Message) ([]kafka.Message, error) {
	if in.o.Clock != ClockEvent {
		return kafka.FetchBatch(ctx, r, in.o.IngestBatch, in.o.Linger, buf)
	}
	return kafka.FetchBatchWithin(ctx, r, in.o.IngestBatch, in.o.Linger, idleTick, buf)
}

// decode turns one batch of upstream messages into output messages.
func (in *ingest) decode(msgs []kafka.Message, batch *sources.Batch) *ingestOut {
	out := &ingestOut{in: msgs}
	n := in.o.Partitions
	perPart := make([][]scoring.Event, n)
	var areaEvs []scoring.Event // designations, broadcast to every partition in order
	for i := range msgs {
		m := &msgs[i]
		stream, ok := in.streams[m.Topic]
		if !ok {
			out.dead = append(out.dead, deadLetter(m, fmt.Errorf("topic %q is not an upstream topic", m.Topic)))
			continue
		}
		batch.Reset()
		if err := in.dec.Decode(stream, m.Value, batch); err != nil {
			out.dead = append(out.dead, deadLetter(m, err))
			if stream == sources.StreamOverrides {
				in.ovr.read(m, nil) // read all the same: the guard's clock moves past it
			}
			continue
		}
		for _, d := range batch.Areas {
			// Every partition sees the designation before the events decoded after it.
			ev := scoring.AreaEvent(d)
			for p := range perPart {
				perPart[p] = append(perPart[p], ev)
			}
			areaEvs = append(areaEvs, ev)
		}
		for j := range batch.Events {
			ev := batch.Events[j]
			p := ev.Person.Partition(n)
			perPart[p] = append(perPart[p], ev)
			if ev.At > in.maxAt {
				in.maxAt = ev.At
			}
		}
		if stream == sources.StreamOverrides {
			in.ovr.read(m, batch.Overrides)
		}
		if len(batch.Overrides) > 0 {
			out.overs = in.appendOverrides(out.overs, m, batch.Overrides, out)
		}
		for _, d := range batch.Areas {
			if d.From > in.maxAt {
				in.maxAt = d.From
			}
			b, err := wire.EncodeDesignation(d)
			if err != nil {
				out.dead = append(out.dead, deadLetter(m, err))
				continue
			}
			key := fmt.Sprintf("%d:%s@%d", d.Kind, d.Code, d.From)
			out.areas = append(out.areas, kafka.Message{Key: []byte(key), Value: b})
		}
	}
	// In event-clock mode every partition learns the clock, so timers fire
	// everywhere, also where no event of this batch lands.
	tick := in.o.Clock == ClockEvent && in.maxAt > in.sentAt
	for p := 0; p < n; p++ {
		evs := perPart[p]
		inTimeOrder(evs)
		out.nEv += len(evs) - len(areaEvs)
		if tick {
			evs = append(evs, scoring.Event{Kind: scoring.KindTick, At: in.maxAt})
		}
		if len(evs) == 0 {
			continue
		}
		out.events = appendEventMessages(out.events, p, evs, in.o.eventBudget())
	}
	if tick {
		in.sentAt = in.maxAt
	}
	return out
}

// inTimeOrder sorts each run of person events between two designations by
// time (ties: by event id), so that the events of one person that one batch
// read from several upstream topics reach scoring in the order they
// happened, however the fetches of the topics interleaved (a person's first
// version is dated by the first event applied: docs/contract.md, "Clock").
// Designations keep their place: the events decoded after one still follow it.
func inTimeOrder(evs []scoring.Event) {
	start := 0
	for i := 0; i <= len(evs); i++ {
		if i < len(evs) && evs[i].Kind != scoring.KindArea {
			continue
		}
		if run := evs[start:i]; len(run) > 1 {
			slices.SortStableFunc(run, func(a, b scoring.Event) int { return inTime(&a, &b) })
		}
		start = i + 1
	}
}

// inTime orders events by time, ties by event id: the order ingest passes a
// batch in and the score stage applies what it held (lateness.go).
func inTime(a, b *scoring.Event) int {
	if c := cmp.Compare(a.At, b.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// write sends a batch's output and waits until all of it is acknowledged.
func (in *ingest) write(ctx context.Context, out *ingestOut) error {
	// Every partition gets the batch's designations in order through
	// hc.person-events itself; hc.area-risk, the reference copy a restarted
	// partition loads first, is written before the events all the same.
	if err := writeInOrder(ctx, output{in.areas, out.areas}); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if err := writeAll(ctx, output{in.events, out.events}, output{in.overs, out.overs}, output{in.dead, out.dead}); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// deadLetter wraps a rejected message for hc.dead-letter: the key and value as
// received, with headers error, topic, partition and offset.
func deadLetter(m *kafka.Message, err error) kafka.Message {
	return kafka.Message{
		Key:   m.Key,
		Value: m.Value,
		Headers: []kafka.Header{
			{Key: "error", Value: []byte(err.Error())},
			{Key: "topic", Value: []byte(m.Topic)},
			{Key: "partition", Value: []byte(strconv.Itoa(m.Partition))},
			{Key: "offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
		},
	}
}

func ignoreCancel(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// followPolicy builds the decoder for the colours of p, the policy in force,
// when they differ from those it was built for (a published policy that
// renames or adds colours); Options.Decoder.Colours, when set, fixes them.
func (in *ingest) followPolicy(p *scoring.Policy) error {
	if in.dec != nil && (in.decPol == nil || in.decPol == p) {
		return nil
	}
	cfg := in.o.Decoder
	if cfg.Colours == nil {
		if in.dec != nil && slices.Equal(in.decPol.Colours, p.Colours) {
			in.decPol = p
			return nil
		}
		cfg.Colours, in.decPol = p.Colours, p
	}
	dec, err := sources.NewDecoder(cfg)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	in.dec = dec
	return nil
}
