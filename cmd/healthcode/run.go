package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
)

type runFlags struct {
	dataDir, chDB, policy, clock, stages  string
	partitions, retention, auditRetention int
	simulate                              bool
	sim                                   simFlags
	deadLetterRetention                   time.Duration
	shutdownTimeout                       time.Duration
	lateness                              time.Duration
	httpAddr                              string
	brokerPort                            int
}

func runCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("run", "run [flags]")
	var f runFlags
	kf := addKafkaFlags(fs, "empty: an embedded broker on loopback")
	fs.StringVar(&f.dataDir, "data-dir", "data", "data directory of the embedded broker (DIR/kafka)")
	chf := addClickHouseFlags(fs, true)
	fs.IntVar(&f.retention, "retention-days", 400, "ClickHouse data older than this is dropped by partition")
	fs.IntVar(&f.auditRetention, "audit-retention-days", clickhouse.DefaultAuditRetentionDays, "override_audit and override_alerts older than this are dropped by month; at least --retention-days")
	fs.StringVar(&f.policy, "policy", "domestic", "shipped policy name or policy file path")
	fs.StringVar(&f.clock, "clock", "", "wall (production) or event (replays, simulations); default wall, event with --simulate")
	fs.StringVar(&f.stages, "stages", strings.Join(pipeline.AllStages, ","), "stages to run in this process")
	fs.IntVar(&f.partitions, "partitions", 8, "partitions of the pipeline's topics (created if missing)")
	fs.DurationVar(&f.deadLetterRetention, "dead-letter-retention", pipeline.DefaultDeadLetterRetention, "retention of hc.dead-letter when run creates it (it holds raw upstream input); an existing topic keeps its own")
	fs.StringVar(&f.httpAddr, "http", "", "HTTP listen address for /metrics, /healthz, /readyz and /debug/pprof/ (with --simulate, also the demo's code service after the summary); empty: none")
	fs.IntVar(&f.brokerPort, "broker-port", defaultBrokerPort, "loopback port of the embedded broker started without --brokers; 0: one chosen by the kernel")
	fs.BoolVar(&f.simulate, "simulate", false, "write a simulated province into the upstream topics, wait until the pipeline has drained, print a summary and exit")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on a first SIGTERM or SIGINT, how long each stage may take to finish the batch in hand (written, acknowledged, committed) before it drops it, to be redelivered, and exits")
	fs.DurationVar(&f.lateness, "lateness", 0, "with --clock event, how far (in event time) behind the latest input an event may come and still be applied in time order: each is held that long, and everything held is applied after a second without input; 0: applied at once")
	key := addKeyFlags(fs)
	groupPrefix := addGroupPrefixFlag(fs)
	tf := addTopicFlags(fs)
	f.sim.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	kc, err := kf.config()
	if err != nil {
		return err
	}
	ch, err := chf.options()
	if err != nil {
		return err
	}
	topics, err := tf.topics()
	if err != nil {
		return err
	}
	f.chDB = ch.Database

	pol, err := policies.Load(f.policy)
	if err != nil {
		return err
	}
	if f.clock == "" {
		f.clock = string(pipeline.ClockWall)
		if f.simulate {
			f.clock = string(pipeline.ClockEvent)
		}
	}
	brokers := kc.Brokers
	secret, err := key.resolve(len(brokers) == 0)
	if err != nil {
		return err
	}
	if len(brokers) == 0 {
		dir := filepath.Join(f.dataDir, "kafka")
		if f.simulate {
			// A demo run starts from an empty broker so its summary counts only itself.
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		emb, err := broker.Start(broker.Options{DataDir: dir, Partitions: f.partitions, Port: f.brokerPort})
		if err != nil {
			return fmt.Errorf("embedded broker (--broker-port %d): %w", f.brokerPort, err)
		}
		defer emb.Close()
		brokers = emb.Addrs()
		kc.Brokers = brokers
		fmt.Fprintf(stdout, "embedded Kafka-protocol broker on %s (other processes: --brokers %[1]s)\n", strings.Join(brokers, ","))
		slog.Info("embedded Kafka-protocol broker (kfake) started", slog.Any("addrs", brokers), slog.String("data_dir", dir))
	}
	opts := pipeline.Options{
		Kafka:       kc,
		Topics:      topics,
		GroupPrefix: *groupPrefix,
		Partitions:  f.partitions,
		Policy:      pol,
		ClickHouse:  ch,
		Clock:       pipeline.ClockMode(f.clock),
		Stages:      splitList(f.stages),
		// The group timings are kafka.Config's defaults (recovery under 10s):
		// docs/operations.md, "Consumer-group timings".
		ShutdownTimeout: f.shutdownTimeout,
		Lateness:        f.lateness,
	}
	opts.DeadLetterRetention = f.deadLetterRetention
	opts.Decoder.Key = secret
	opts.ClickHouse.RetentionDays = f.retention
	opts.ClickHouse.AuditRetentionDays = f.auditRetention
	if f.simulate {
		if f.sim.seed == 0 {
			f.sim.seed = 1
		}
		return runDemo(ctx, opts, f, secret, stdout)
	}
	p, err := pipeline.New(opts)
	if err != nil {
		return err
	}
	obs, err := startObserving(f.httpAddr, p, stdout)
	if err != nil {
		return err
	}
	defer obs.close()
	slog.Info("pipeline running", slog.String("policy", pol.Stamp()), slog.String("clock", f.clock), slog.Any("stages", opts.Stages))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return obs.run(gctx, p.Run) })
	obs.pollLag(g, gctx)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// runDemo runs the pipeline with a simulated province flowing through it, waits
// until every stage has drained, and prints a summary.
func runDemo(ctx context.Context, opts pipeline.Options, f runFlags, secret []byte, stdout io.Writer) error {
	if f.chDB != "" {
		// The demo owns its database: start from empty so the summary is its
		// own. Only a database a demo created is dropped; any other is refused.
		if err := clickhouse.ResetDemoDatabase(ctx, opts.ClickHouse); err != nil {
			return fmt.Errorf("reset demo database: %w", err)
		}
	}
	p, err := pipeline.New(opts)
	if err != nil {
		return err
	}
	if err := p.EnsureTopics(ctx); err != nil {
		return err
	}
	obs, err := startObserving(f.httpAddr, p, stdout)
	if err != nil {
		return err
	}
	defer obs.close()
	start := time.Now()
	// Two goroutines under one errgroup: the pipeline, and the demo that feeds
	// it and waits for it to drain, then stops it. The first to fail cancels
	// the other; both are waited for before returning.
	g, gctx := errgroup.WithContext(ctx)
	runCtx, stop := context.WithCancel(gctx)
	defer stop()
	g.Go(func() error {
		err := obs.run(runCtx, p.Run)
		if runCtx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return nil // stopped by the demo, or by ctx
		}
		if err == nil {
			err = errors.New("stages returned early")
		}
		return fmt.Errorf("pipeline stopped before draining: %w", err)
	})
	obs.pollLag(g, runCtx)
	bar := newProgress(os.Stderr)
	m := p.Metrics()
	var sr simResult
	var took time.Duration
	// With --http the pipeline keeps running after the drain, for the code
	// service and the endpoints served after the summary.
	drained := make(chan struct{})
	g.Go(func() error {
		if obs.svc == nil {
			defer stop()
		}
		sr = simulateInto(gctx, p.Kafka(), p.Options().Topics.Sources, f.sim, secret, bar)
		if sr.err != nil {
			return fmt.Errorf("simulate: %w", sr.err)
		}
		err := p.WaitDrained(gctx, 500*time.Millisecond, func(l pipeline.Lag) {
			bar.set(m.UpstreamIn.Load(), int64(sr.messages), m.Updates.Load(), m.DeadLetters.Load(), l.Total())
		})
		if err != nil {
			return fmt.Errorf("wait drained: %w", err)
		}
		bar.done()
		took = time.Since(start)
		close(drained)
		return nil
	})
	if obs.svc == nil {
		if err := g.Wait(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return printSummary(ctx, stdout, *p.Options(), m, sr, took)
	}
	select {
	case <-drained:
	case <-gctx.Done():
	}
	if gctx.Err() != nil {
		stop()
		if err := g.Wait(); err != nil {
			return err
		}
		return ctx.Err()
	}
	err = printSummary(ctx, stdout, *p.Options(), m, sr, took)
	if err == nil {
		err = serveDemo(runCtx, g, obs.svc, opts, secret, stdout)
	}
	stop()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C after the summary ends the demo
	}
	return err
}
