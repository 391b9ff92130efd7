package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	streams map[string]sources.Stream // topic -> stream
	events  *kafka.Writer
	areas   *kafka.Writer
	dead    *kafka.Writer
	maxAt   scoring.Time // highest occurred_at seen (the event clock)
	sentAt  scoring.Time // the clock last sent to every partition
}

// ingestOut is what one batch of upstream messages produced.
type ingestOut struct {
	in     []kafka.Message
	events []kafka.Message
	areas  []kafka.Message
	dead   []kafka.Message
	nEv    int
}

func newIngest(o *Options, kc *kafka.Client) (*ingest, error) {
	dec, err := sources.NewDecoder(o.Decoder)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	in := &ingest{o: o, kc: kc, dec: dec, streams: map[string]sources.Stream{}}
	for s, t := range o.Topics.Sources {
		in.streams[t] = s
	}
	in.events = kc.NewWriter(o.Topics.PersonEvents, kafka.PartitionBalancer{})
	in.areas = kc.NewWriter(o.Topics.AreaRisk, &kafka.Hash{})
	in.dead = kc.NewWriter(o.Topics.DeadLetter, &kafka.Hash{})
	return in, nil
}

func (in *ingest) close() error {
	return errors.Join(in.events.Close(), in.areas.Close(), in.dead.Close())
}

func (in *ingest) run(ctx context.Context) error {
	defer in.close()
	topics := make([]string, 0, len(in.streams))
	for t := range in.streams {
		topics = append(topics, t)
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
			msgs, err := kafka.FetchBatch(ctx, r, in.o.IngestBatch, in.o.Linger, buf)
			if err != nil {
				return ignoreCancel(err)
			}
			out := in.decode(msgs, &batch)
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
			m.UpstreamIn.Add(int64(len(out.in)))
			m.DeadLetters.Add(int64(len(out.dead)))
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
		out.nEv += len(evs) - len(areaEvs)
		if tick {
			evs = append(evs, scoring.Event{Kind: scoring.KindTick, At: in.maxAt})
		}
		if len(evs) == 0 {
			continue
		}
		out.events = appendEventMessages(out.events, p, evs)
	}
	if tick {
		in.sentAt = in.maxAt
	}
	return out
}

// write sends a batch's output and waits until all of it is acknowledged.
func (in *ingest) write(ctx context.Context, out *ingestOut) error {
	// Every partition gets the batch's designations in order through
	// hc.person-events itself; hc.area-risk, the reference copy a restarted
	// partition loads first, is written before the events all the same.
	if err := writeInOrder(ctx, output{in.areas, out.areas}, output{in.events, out.events}, output{in.dead, out.dead}); err != nil {
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

// maxEventsPerMessage keeps a message of person events well under the 1 MiB
// batch limit of a stock broker (about 100 bytes per event before
// compression).
const maxEventsPerMessage = 4000

// appendEventMessages encodes events bound for partition p as one or more
// messages of hc.person-events.
func appendEventMessages(dst []kafka.Message, p int, evs []scoring.Event) []kafka.Message {
	for len(evs) > 0 {
		n := min(len(evs), maxEventsPerMessage)
		b, err := wire.EncodeEvents(evs[:n])
		if err != nil {
			// An encoding failure is a bug, not bad input: stop rather than lose events.
			panic(fmt.Sprintf("encode person events: %v", err))
		}
		dst = append(dst, kafka.Message{Partition: p, Key: evs[0].Person[:], Value: b})
		evs = evs[n:]
	}
	return dst
}
