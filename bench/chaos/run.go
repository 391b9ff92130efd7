package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"healthcode/pipeline"
)

// Report is what a harness run did and found.
type Report struct {
	Options  Options
	Features features
	Started  time.Time
	WorkDir  string

	Messages  int64         // upstream messages the simulator wrote (each run)
	RefTook   time.Duration // reference: first message to drained
	ChaosTook time.Duration // under faults: first message to drained
	Faults    []fault
	Checks    []check
	Crashes   []string // process exits nobody asked for (each was restarted)
	Failures  []string // why the run fails; empty when it passes
}

// fault is one injected fault and how the pipeline recovered from it.
type fault struct {
	n      int
	kind   string
	at     time.Duration // since the run under faults started
	detail string
	rec    recovery
	judged bool // held to MaxRecovery
	note   string
}

// Passed reports whether nothing differed and every judged recovery was in time.
func (r *Report) Passed() bool { return len(r.Failures) == 0 }

// Run runs the reference and the run under faults, compares them and writes
// chaos.md into o.Out. The error is for a harness that could not run; a run
// that found a difference returns a report with Failures.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if out, err := exec.Command(o.Bin, "broker", "--help").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chaos: %s has no working broker command (%v): %.200s", o.Bin, err, out)
	}
	r := &Report{Options: o, Features: detectFeatures(o.Bin), Started: time.Now(), WorkDir: o.WorkDir}
	if r.WorkDir == "" {
		d, err := os.MkdirTemp("", "chaos-")
		if err != nil {
			return nil, err
		}
		r.WorkDir = d
	}
	lg := o.Logger
	ch, err := startClickHouse(filepath.Join(r.WorkDir, "clickhouse"), o.Deadline, lg)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer ch.p.close()
	lg.Info("chaos: private clickhouse-server started", slog.String("addr", ch.addr), slog.String("dir", r.WorkDir))

	ref, err := r.reference(ctx, ch)
	if err != nil {
		return r, fmt.Errorf("chaos: reference run: %w", err)
	}
	got, err := r.underFaults(ctx, ch)
	if err != nil {
		return r, fmt.Errorf("chaos: run under faults: %w", err)
	}
	r.Checks = compare(ref, got)
	r.judge()
	if err := r.write(); err != nil {
		return r, err
	}
	if r.Passed() && o.WorkDir == "" {
		ch.p.close()
		os.RemoveAll(r.WorkDir)
	}
	return r, nil
}

// reference runs the input uninterrupted through one worker.
func (r *Report) reference(ctx context.Context, ch *chServer) (*snapshot, error) {
	o := &r.Options
	s, err := newStack(ctx, o, "reference", r.WorkDir, ch, r.Features)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if _, err := s.startWorker(); err != nil {
		return nil, err
	}
	cfg, err := simConfig(o, []byte(pseudonymKey))
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	f := startFeeder(ctx, s.kc, s.pl.Options().Topics.Sources, cfg, -1)
	_, n, err := f.wait(ctx)
	if err != nil {
		return nil, err
	}
	r.Messages = n
	o.Logger.Info("chaos: reference input written", slog.Int64("messages", n))
	end, err := s.waitDrained(ctx, f)
	if err != nil {
		return nil, err
	}
	r.RefTook = end.Sub(t0)
	o.Logger.Info("chaos: reference drained", slog.Duration("took", r.RefTook))
	r.Crashes = append(r.Crashes, s.crashes()...)
	return s.snapshot(ctx)
}

// underFaults runs the same input under every fault, in this order: the
// pipeline SIGKILLed Kills times, ClickHouse stopped for Outage, the broker
// restarted cleanly and then killed, and one of three workers killed. Input is
// released in equal steps, one at each fault, so each lands on work in hand.
func (r *Report) underFaults(ctx context.Context, ch *chServer) (*snapshot, error) {
	o := &r.Options
	lg := o.Logger
	s, err := newStack(ctx, o, "chaos", r.WorkDir, ch, r.Features)
	if err != nil {
		return nil, err
	}
	defer s.close()
	cfg, err := simConfig(o, []byte(pseudonymKey))
	if err != nil {
		return nil, err
	}
	steps := int64(o.Kills + 6)
	chunk := (r.Messages + steps - 1) / steps
	step := int64(1)
	release := func() { step++; s.feed.allow(min(step*chunk, r.Messages)) }
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x63686173))
	pause := func() time.Duration {
		d := o.KillAfter/10 + time.Duration(rng.Int64N(int64(o.KillAfter-o.KillAfter/10)+1))
		time.Sleep(d)
		return d
	}
	w, err := s.startWorker()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	s.feed = startFeeder(ctx, s.kc, s.pl.Options().Topics.Sources, cfg, chunk)
	since := func() time.Duration { return time.Since(t0) }
	add := func(f fault) {
		f.n = len(r.Faults) + 1
		r.Faults = append(r.Faults, f)
		lg.Info("chaos: fault", slog.Int("n", f.n), slog.String("kind", f.kind), slog.Duration("recovery", f.rec.took), slog.Any("err", f.rec.err))
	}
	// Let the first worker start before the first fault.
	if err := s.started(ctx, t0); err != nil {
		return nil, err
	}

	for i := range o.Kills {
		d := pause()
		at := since()
		tk := time.Now()
		if err := w.kill(); err != nil {
			return nil, err
		}
		before, err := s.lagRetry(ctx)
		if err != nil {
			return nil, err
		}
		if err := w.start(); err != nil {
			return nil, err
		}
		release()
		add(fault{kind: "SIGKILL of the pipeline (one `run` process), restarted", at: at, judged: true,
			detail: fmt.Sprintf("kill %d of %d, %s after its input step", i+1, o.Kills, d.Round(time.Millisecond)),
			rec:    s.measureRecovery(ctx, tk, before, before)})
	}

	// ClickHouse stopped for Outage: scoring must go on, the tables wait.
	release()
	at := since()
	atStop, err := s.lagRetry(ctx)
	if err != nil {
		return nil, err
	}
	if err := ch.stop(); err != nil {
		return nil, err
	}
	time.Sleep(o.Outage)
	atStart, err := s.lagRetry(ctx)
	if err != nil {
		return nil, err
	}
	moved := movedOutside(atStop, atStart, "sink")
	ts := time.Now()
	if err := ch.start(o.Deadline); err != nil {
		return nil, err
	}
	f := fault{kind: "ClickHouse stopped, then started", at: at,
		detail: fmt.Sprintf("down %s; ingest/score/trace commits during the outage: %d partitions moved", o.Outage, moved),
		rec:    s.measureRecovery(ctx, ts, atStart, atStart, "sink"), note: "recovery counted from the restart, sink groups only"}
	if moved == 0 {
		f.rec.err = errors.Join(f.rec.err, errors.New("no stage but the sink committed anything while ClickHouse was down"))
	}
	add(f)

	// The broker: a clean stop (SIGTERM) and a kill -9, each restarted at once
	// on the same port and data directory. The feeder pauses meanwhile.
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		release()
		d := pause()
		s.feed.pause()
		before, err := s.lagRetry(ctx)
		if err != nil {
			return nil, err
		}
		at := since()
		tb := time.Now()
		if how == "SIGTERM" {
			_, err = s.broker.term(30 * time.Second)
		} else {
			err = s.broker.kill()
		}
		if err != nil {
			return nil, err
		}
		if err := s.startBroker(ctx); err != nil {
			return nil, err
		}
		down := time.Since(tb)
		s.feed.resume()
		baseline, err := s.lagRetry(ctx)
		if err != nil {
			return nil, err
		}
		add(fault{kind: "broker process " + how + ", restarted", at: at, judged: true,
			detail: fmt.Sprintf("%s after its input step; broker answered again after %s", d.Round(time.Millisecond), down.Round(time.Millisecond)),
			rec:    s.measureRecovery(ctx, tb, before, baseline)})
	}

	// Three workers: the one stops cleanly, three start, then one is killed.
	at = since()
	tt := time.Now()
	took, terr := w.term(30 * time.Second)
	for range 3 {
		if _, err := s.startWorker(); err != nil {
			return nil, err
		}
	}
	release()
	scale := fault{kind: "clean stop (SIGTERM) of the one worker, three workers start", at: at,
		detail: fmt.Sprintf("the worker exited after %s", took.Round(time.Millisecond)), note: "informational: three cold starts",
		rec: s.measureRecovery(ctx, tt, mustLag(s.lagRetry(ctx)), mustLag(s.lagRetry(ctx)))}
	if terr != nil {
		scale.rec.err = errors.Join(scale.rec.err, terr)
	}
	add(scale)
	release()
	d := pause()
	victim := rng.IntN(3)
	vw := s.workers[len(s.workers)-3+victim]
	at = since()
	tk := time.Now()
	if err := vw.kill(); err != nil {
		return nil, err
	}
	before, err := s.lagRetry(ctx)
	if err != nil {
		return nil, err
	}
	add(fault{kind: "SIGKILL of one of three workers (not restarted)", at: at, judged: true,
		detail: fmt.Sprintf("worker %d of 3, %s after its input step; the two others take over", victim+1, d.Round(time.Millisecond)),
		rec:    s.measureRecovery(ctx, tk, before, before)})

	s.feed.allow(-1)
	if _, _, err := s.feed.wait(ctx); err != nil {
		return nil, err
	}
	end, err := s.waitDrained(ctx, s.feed)
	if err != nil {
		return nil, err
	}
	r.ChaosTook = end.Sub(t0)
	lg.Info("chaos: run under faults drained", slog.Duration("took", r.ChaosTook))
	r.Crashes = append(r.Crashes, s.crashes()...)
	return s.snapshot(ctx)
}

func mustLag[T any](v T, _ error) T { return v }

// started waits until the first worker has committed input on every
// partition that has some, so the first fault finds it running.
func (s *stack) started(ctx context.Context, t0 time.Time) error {
	l, err := s.lagRetry(ctx)
	if err != nil {
		return err
	}
	rec := s.measureRecovery(ctx, t0, l, l)
	return rec.err
}

// movedOutside counts the partitions of groups not named like except whose
// committed offset moved between a and b.
func movedOutside(a, b pipeline.Lag, except string) int {
	am := byKey(a)
	n := 0
	for _, v := range b {
		if strings.Contains(v.Group, except) {
			continue
		}
		if v.Committed > am[pkey{v.Group, v.Topic, v.Partition}] {
			n++
		}
	}
	return n
}

// judge lists why the run fails.
func (r *Report) judge() {
	for _, c := range r.Checks {
		if !c.ok {
			r.Failures = append(r.Failures, "differs: "+c.what)
		}
	}
	for _, f := range r.Faults {
		switch {
		case f.rec.err != nil:
			r.Failures = append(r.Failures, fmt.Sprintf("fault %d (%s): %v", f.n, f.kind, f.rec.err))
		case f.judged && r.Options.Judge && f.rec.took > r.Options.MaxRecovery:
			r.Failures = append(r.Failures, fmt.Sprintf("fault %d (%s): recovered in %s, over %s", f.n, f.kind, f.rec.took.Round(100*time.Millisecond), r.Options.MaxRecovery))
		}
	}
	for _, c := range r.Crashes {
		r.Failures = append(r.Failures, "a process exited on its own: "+c)
	}
}
