package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/scoring"
)

// takeoverPartitions is the partition count of the takeover run: two workers
// own four score partitions each.
const takeoverPartitions = 8

// Takeover measures recovery across processes, on an embedded broker in this
// process and `healthcode run --stages score` worker processes (o.Binary):
//
//   - takeover_seconds: two workers split the score partitions; one is killed
//     with SIGKILL; the time from the kill until the survivor has committed
//     past the dead worker's committed offsets on every partition it owned
//     (new input is written to them after the kill). Baseline: the configured
//     session timeout, the floor without static membership.
//   - restore_persons_per_sec: a changelog partition of o.RestorePersons
//     persons' state records restored as an assigned partition restores it.
//     Baseline: reading the same partition without applying it.
func Takeover(ctx context.Context, o *Options, r *Report) error {
	b, err := broker.Start(broker.Options{Partitions: takeoverPartitions})
	if err != nil {
		return fmt.Errorf("takeover: %w", err)
	}
	defer b.Close()
	secs, session, err := takeoverRun(ctx, o, b.Addrs())
	if err != nil {
		return err
	}
	rate, readRate, n, err := restoreRun(ctx, o, b.Addrs())
	if err != nil {
		return err
	}
	r.Add(Figure{Key: "takeover_seconds", Value: secs.Seconds(), Unit: "s",
		Baseline: "configured session timeout", BaselineValue: session.Seconds(), Goal: "<= 10",
		Note: fmt.Sprintf("SIGKILL of one of two score workers owning %d of %d partitions, until the survivor committed past its offsets on all of them", takeoverPartitions/2, takeoverPartitions)},
		Figure{Key: "restore_persons_per_sec", Value: rate, Unit: "persons/s",
			Baseline: "reading the changelog without applying it", BaselineValue: readRate, Goal: ">= 1000000",
			Note: fmt.Sprintf("one changelog partition of %d persons", n)})
	return nil
}

// takeoverPipeline is a score-only pipeline on brokers: topics, lag, restore.
func takeoverPipeline(brokers []string, parts int, state string) (*pipeline.Pipeline, error) {
	pol, err := policies.Load("domestic")
	if err != nil {
		return nil, err
	}
	opts := pipeline.Options{Kafka: kafka.Config{Brokers: brokers}, Partitions: parts, Policy: pol,
		Clock: pipeline.ClockEvent, Stages: []string{pipeline.StageScore}}
	opts.Topics.State = state
	return pipeline.New(opts)
}

func takeoverRun(ctx context.Context, o *Options, brokers []string) (took, session time.Duration, err error) {
	p, err := takeoverPipeline(brokers, takeoverPartitions, "")
	if err != nil {
		return 0, 0, err
	}
	session = p.Options().Kafka.SessionTimeout
	if err := p.EnsureTopics(ctx); err != nil {
		return 0, 0, err
	}
	w := newCoreWorld(o.TakeoverEvents, min(o.TakeoverEvents, 1<<20))
	if err := writeEvents(ctx, p, w, 0, o.TakeoverEvents/2, nil); err != nil {
		return 0, 0, err
	}
	args := []string{"run", "--brokers", strings.Join(brokers, ","), "--stages", pipeline.StageScore,
		"--clock", "event", "--partitions", fmt.Sprint(takeoverPartitions)}
	a, err := startBenchWorker(o.Binary, args)
	if err != nil {
		return 0, 0, err
	}
	defer a.stop()
	group := p.Options().GroupPrefix + pipeline.StageScore
	var first map[string][]int
	if err := waitMembers(ctx, brokers, group, 1, &first); err != nil {
		return 0, 0, err
	}
	bw, err := startBenchWorker(o.Binary, args)
	if err != nil {
		return 0, 0, err
	}
	defer bw.stop()
	var both map[string][]int
	if err := waitMembers(ctx, brokers, group, 2, &both); err != nil {
		return 0, 0, err
	}
	var owned []int // the first worker's partitions now
	for id, ps := range both {
		if _, ok := first[id]; ok {
			owned = ps
		}
	}
	if len(owned) == 0 {
		return 0, 0, errors.New("takeover: the first worker owns no partition after the second joined")
	}
	if err := waitLag(ctx, p); err != nil {
		return 0, 0, err
	}

	start := time.Now()
	if err := a.cmd.Process.Kill(); err != nil {
		return 0, 0, err
	}
	a.cmd.Wait()
	dead, err := committed(ctx, p, owned)
	if err != nil {
		return 0, 0, err
	}
	if err := writeEvents(ctx, p, w, o.TakeoverEvents/2, o.TakeoverEvents, owned); err != nil {
		return 0, 0, err
	}
	for {
		now, err := committed(ctx, p, owned)
		if err != nil {
			return 0, 0, err
		}
		past := 0
		for q, c := range dead {
			if now[q] > c {
				past++
			}
		}
		if past == len(owned) {
			return time.Since(start), session, nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, 0, fmt.Errorf("takeover: the survivor passed the dead worker's offsets on %d of %d partitions in 2m", past, len(owned))
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeEvents writes events [from, to) of w onto hc.person-events, each to
// its person's partition, skipping partitions not in only (if given).
func writeEvents(ctx context.Context, p *pipeline.Pipeline, w *coreWorld, from, to int, only []int) error {
	n := p.Options().Partitions
	wr := p.Kafka().NewWriter(p.Options().Topics.PersonEvents, kafka.PartitionBalancer{})
	defer wr.Close()
	per := make([][]scoring.Event, n)
	flush := func() error {
		var msgs []kafka.Message
		for q, evs := range per {
			if len(evs) == 0 {
				continue
			}
			b, err := wire.EncodeEvents(evs)
			if err != nil {
				return err
			}
			msgs = append(msgs, kafka.Message{Partition: q, Value: b})
			per[q] = evs[:0]
		}
		return kafka.Write(ctx, wr, msgs...)
	}
	for i := from; i < to; i++ {
		ev := w.at(i)
		q := ev.Person.Partition(n)
		if only != nil && !slices.Contains(only, q) {
			continue
		}
		per[q] = append(per[q], ev)
		if len(per[q]) == 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// committed returns the score group's committed offset of each partition.
func committed(ctx context.Context, p *pipeline.Pipeline, parts []int) (map[int]int64, error) {
	lag, err := p.Lag(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, l := range lag {
		if slices.Contains(parts, l.Partition) {
			out[l.Partition] = l.Committed
		}
	}
	return out, nil
}

func waitLag(ctx context.Context, p *pipeline.Pipeline) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return p.WaitDrained(ctx, 100*time.Millisecond, nil)
}

// waitMembers waits until group is stable with n members, each owning some
// partition, and returns their assignments by member id.
func waitMembers(ctx context.Context, brokers []string, group string, n int, out *map[string][]int) error {
	cl := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := cl.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(resp.Groups) == 1 && resp.Groups[0].GroupState == "Stable" && len(resp.Groups[0].Members) == n {
			m := map[string][]int{}
			for _, mem := range resp.Groups[0].Members {
				for _, t := range mem.MemberAssignments.Topics {
					m[mem.MemberID] = append(m[mem.MemberID], t.Partitions...)
				}
			}
			if len(m) == n {
				*out = m
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("takeover: group %s not stable with %d members within a minute", group, n)
}

// benchWorker is a `healthcode run` child process.
type benchWorker struct{ cmd *exec.Cmd }

func startBenchWorker(bin string, args []string) (*benchWorker, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HEALTHCODE_PSEUDONYM_KEY=bench-takeover-key", "HEALTHCODE_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("takeover: start %s: %w", bin, err)
	}
	return &benchWorker{cmd: cmd}, nil
}

// stop ends the worker with SIGTERM (a clean stop) if it still runs.
func (w *benchWorker) stop() {
	if w.cmd.ProcessState != nil {
		return
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	w.cmd.Wait()
}

// restoreRun writes n persons' state records (and an offset marker) into one
// changelog partition and times its restore, and a bare read of it.
func restoreRun(ctx context.Context, o *Options, brokers []string) (rate, readRate float64, n int, err error) {
	p, err := takeoverPipeline(brokers, 1, "bench.restore-state")
	if err != nil {
		return 0, 0, 0, err
	}
	if err := p.Kafka().EnsureTopics(ctx, kafka.TopicSpec{Name: "bench.restore-state", Partitions: 1, Compacted: true}); err != nil {
		return 0, 0, 0, err
	}
	eng := scoring.NewEngine(p.Options().Policy, scoring.EngineOptions{})
	w := newCoreWorld(o.RestorePersons, min(2*o.RestorePersons, 1<<22))
	var ups []scoring.Update
	for i := 0; eng.Len() < o.RestorePersons && i < 4*o.RestorePersons; i++ {
		ev := w.at(i)
		ups, _ = eng.Apply(&ev, ev.At, ups[:0])
	}
	wr := p.Kafka().NewWriter("bench.restore-state", kafka.PartitionBalancer{})
	defer wr.Close()
	var batch []kafka.Message
	for _, k := range eng.TakeDirty() {
		rec, ok := eng.AppendState(nil, k)
		if !ok {
			continue
		}
		batch = append(batch, kafka.Message{Key: append([]byte(nil), k[:]...), Value: rec})
		if len(batch) == 5000 {
			if err := kafka.Write(ctx, wr, batch...); err != nil {
				return 0, 0, 0, err
			}
			batch = batch[:0]
		}
	}
	marker, err := wire.EncodeMarker(wire.Marker{Next: 0})
	if err != nil {
		return 0, 0, 0, err
	}
	batch = append(batch, kafka.Message{Key: wire.MarkerKey(), Value: marker})
	if err := kafka.Write(ctx, wr, batch...); err != nil {
		return 0, 0, 0, err
	}

	start := time.Now()
	ends, err := p.Kafka().EndOffsets(ctx, "bench.restore-state", 0)
	if err != nil {
		return 0, 0, 0, err
	}
	read := 0
	if err := p.Kafka().Replay(ctx, "bench.restore-state", 0, ends[0], func(*kafka.Message) error { read++; return nil }); err != nil {
		return 0, 0, 0, err
	}
	readTook := time.Since(start)
	start = time.Now()
	n, err = p.RestorePartition(ctx, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	took := time.Since(start)
	return float64(n) / took.Seconds(), float64(read-1) / readTook.Seconds(), n, nil
}
