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

// ErrNoBroker says the binary has no `healthcode broker` command to run.
var ErrNoBroker = errors.New("chaos: the binary has no working broker command")

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
	Control   []check         // a second uninterrupted run against the first (Options.Control)
	refSteps  []time.Duration // how long each step took in the reference
	Crashes   []string        // process exits nobody asked for (each was restarted)
	Failures  []string        // why the run fails; empty when it passes
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
		return nil, fmt.Errorf("%w: %s (%v): %.200s", ErrNoBroker, o.Bin, err, out)
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

	ref, err := r.reference(ctx, ch, "reference")
	if err != nil {
		return r, fmt.Errorf("chaos: reference run: %w", err)
	}
	if o.Control {
		again, err := r.reference(ctx, ch, "control")
		if err != nil {
			return r, fmt.Errorf("chaos: control run: %w", err)
		}
		r.Control = compare(ref, again)
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

// steps cuts the input into one step before the faults, two per fault (a
// fault that finds its step already done is measured on the next one) and
// the rest, released one by one after the faults.
func (r *Report) steps() int { return 2*(r.Options.Kills+5) + 1 }

func (r *Report) chunk() int64 {
	n := int64(r.steps())
	return (r.Messages + n - 1) / n
}

// reference runs the input uninterrupted through one worker, in the same
// steps as the run under faults: each step is released once the one before
// has drained. It records how long each step took, which places the faults.
func (r *Report) reference(ctx context.Context, ch *chServer, name string) (*snapshot, error) {
	o := &r.Options
	cfg, err := simConfig(o, []byte(pseudonymKey))
	if err != nil {
		return nil, err
	}
	if r.Messages, err = countMessages(ctx, cfg); err != nil {
		return nil, err
	}
	s, err := newStack(ctx, o, name, r.WorkDir, ch, r.Features)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if _, err := s.startWorker(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	s.feed = startFeeder(ctx, s.kc, s.pl.Options().Topics.Sources, cfg, r.chunk())
	first := r.refSteps == nil
	for k := 1; k <= r.steps(); k++ {
		ts := time.Now()
		s.feed.allow(min(int64(k)*r.chunk(), r.Messages))
		if err := s.settle(ctx); err != nil {
			return nil, err
		}
		if first {
			r.refSteps = append(r.refSteps, time.Since(ts))
		}
	}
	s.feed.allow(-1)
	if _, _, err := s.feed.wait(ctx); err != nil {
		return nil, err
	}
	end, err := s.waitDrained(ctx, s.feed)
	if err != nil {
		return nil, err
	}
	if first {
		r.RefTook = end.Sub(t0)
	}
	o.Logger.Info("chaos: "+name+" drained", slog.Duration("took", end.Sub(t0)), slog.Int64("messages", r.Messages))
	r.Crashes = append(r.Crashes, s.crashes()...)
	return s.snapshot(ctx)
}

// underFaults runs the same input, in the same steps, under one fault per
// step: the pipeline SIGKILLed Kills times, ClickHouse stopped for Outage,
// the broker restarted cleanly and then killed, the one worker stopped
// cleanly for three, and one of the three killed. A fault lands at a random
// point of its step (a seeded fraction of the reference's time for that
// step), so it finds work in hand; the next step waits for the step to drain.
func (r *Report) underFaults(ctx context.Context, ch *chServer) (*snapshot, error) {
	o := &r.Options
	lg := o.Logger
	cfg, err := simConfig(o, []byte(pseudonymKey))
	if err != nil {
		return nil, err
	}
	s, err := newStack(ctx, o, "chaos", r.WorkDir, ch, r.Features)
	if err != nil {
		return nil, err
	}
	defer s.close()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x63686173))
	step := 1
	released := false
	// next releases the next step, once per step.
	next := func() {
		if !released && step < r.steps() {
			step++
			released = true
			s.feed.allow(min(int64(step)*r.chunk(), r.Messages))
		}
	}
	// begin releases the step of a fault and waits a random part of it.
	begin := func() time.Duration {
		released = false
		next()
		ref := r.refSteps[min(step, len(r.refSteps))-1]
		d := time.Duration(rng.Float64() * float64(ref))
		time.Sleep(d)
		return d
	}
	// idle: nothing was stalled at the fault (the step was done already), so
	// the next step is released at once and the recovery is measured on it.
	idle := func(before pipeline.Lag) {
		if len(pendingOf(before)) == 0 {
			released = false
			next()
		}
	}
	w, err := s.startWorker()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	s.feed = startFeeder(ctx, s.kc, s.pl.Options().Topics.Sources, cfg, r.chunk())
	since := func() time.Duration { return time.Since(t0) }
	add := func(f fault) error {
		f.n = len(r.Faults) + 1
		r.Faults = append(r.Faults, f)
		lg.Info("chaos: fault", slog.Int("n", f.n), slog.String("kind", f.kind), slog.Duration("recovery", f.rec.took), slog.Any("err", f.rec.err))
		return s.settle(ctx)
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}

	for i := range o.Kills {
		d := begin()
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
		idle(before)
		if err := add(fault{kind: "SIGKILL of the pipeline (one `run` process), restarted", at: at, judged: true,
			detail: fmt.Sprintf("kill %d of %d, %s into its step", i+1, o.Kills, d.Round(time.Millisecond)),
			rec:    s.measureRecovery(ctx, tk, before, before)}); err != nil {
			return nil, err
		}
	}

	// ClickHouse stopped for Outage: scoring must go on, the tables wait.
	released = false
	next()
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
		detail: fmt.Sprintf("down %s; partitions of ingest/score/trace that committed during the outage: %d", o.Outage, moved),
		rec:    s.measureRecovery(ctx, ts, atStart, atStart, "sink"), note: "recovery counted from the restart, sink groups only"}
	if moved == 0 {
		f.rec.err = errors.Join(f.rec.err, errors.New("no stage but the sink committed anything while ClickHouse was down"))
	}
	if err := add(f); err != nil {
		return nil, err
	}

	// The broker: a clean stop (SIGTERM) and a kill -9, each restarted at once
	// on the same port and data directory. The feeder pauses meanwhile.
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		d := begin()
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
		idle(before)
		if err := add(fault{kind: "broker process " + how + ", restarted", at: at, judged: true,
			detail: fmt.Sprintf("%s into its step; the broker answered again after %s", d.Round(time.Millisecond), down.Round(time.Millisecond)),
			rec:    s.measureRecovery(ctx, tb, before, baseline)}); err != nil {
			return nil, err
		}
	}

	// Three workers: the one stops cleanly, three start, then one is killed.
	d := begin()
	at = since()
	tt := time.Now()
	took, terr := w.term(30 * time.Second)
	before, err := s.lagRetry(ctx)
	if err != nil {
		return nil, err
	}
	for range 3 {
		if _, err := s.startWorker(); err != nil {
			return nil, err
		}
	}
	idle(before)
	scale := fault{kind: "clean stop (SIGTERM) of the one worker, three workers start", at: at,
		detail: fmt.Sprintf("%s into its step; the worker exited after %s", d.Round(time.Millisecond), took.Round(time.Millisecond)),
		note:   "informational: three cold starts", rec: s.measureRecovery(ctx, tt, before, before)}
	if terr != nil {
		scale.rec.err = errors.Join(scale.rec.err, terr)
	}
	if err := add(scale); err != nil {
		return nil, err
	}
	d = begin()
	victim := rng.IntN(3)
	vw := s.workers[len(s.workers)-3+victim]
	at = since()
	tk := time.Now()
	if err := vw.kill(); err != nil {
		return nil, err
	}
	if before, err = s.lagRetry(ctx); err != nil {
		return nil, err
	}
	idle(before)
	if err := add(fault{kind: "SIGKILL of one of three workers (not restarted)", at: at, judged: true,
		detail: fmt.Sprintf("worker %d of 3, %s into its step; the two others take over", victim+1, d.Round(time.Millisecond)),
		rec:    s.measureRecovery(ctx, tk, before, before)}); err != nil {
		return nil, err
	}
	for step < r.steps() {
		released = false
		next()
		if err := s.settle(ctx); err != nil {
			return nil, err
		}
	}

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
