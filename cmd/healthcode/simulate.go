package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sources"
	"healthcode/sources/sim"
)

type simFlags struct {
	people, days int
	seed         int64
	checkins     float64
	truth        string
	burst        int
}

func (s *simFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.people, "people", 100_000, "simulated population")
	fs.IntVar(&s.days, "days", 7, "simulated days")
	fs.Int64Var(&s.seed, "seed", 1, "simulation seed (same seed, same province)")
	fs.Float64Var(&s.checkins, "checkins-per-day", 2, "mean venue check-ins per person per day (about 5 for a province-scale run)")
	fs.StringVar(&s.truth, "truth", "", "write the simulator's ground truth (infections, by person key) to this file")
	fs.IntVar(&s.burst, "override-burst", 25, "overrides to red by one officer within an hour on day 3 (the shipped policies raise one alert, officer-red, past 20); 0: none")
}

// config is the simulator's configuration: the flags, and the shipped
// domestic policy's contact definitions.
func (s *simFlags) config(secret []byte) (sim.Config, error) {
	pol, err := policies.Load("domestic")
	if err != nil {
		return sim.Config{}, err
	}
	return sim.Config{People: s.people, Days: s.days, Seed: s.seed, CheckinsPerDay: s.checkins, Key: secret, Policy: pol,
		OverrideBurst: s.burst}, nil
}

func simulateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("simulate", "simulate --brokers B [flags]")
	kf := addKafkaFlags(fs, "required unless --out")
	outPath := fs.String("out", "", "write the messages as JSON lines {\"topic\",\"key\",\"value\"} to this file (- for stdout) instead of Kafka")
	partitions := fs.Int("partitions", 8, "partitions of upstream topics created if missing")
	key := addKeyFlags(fs)
	tf := addTopicFlags(fs)
	dev := fs.Bool("dev-key", false, "use the embedded demo's development key for the ground truth's person keys")
	var sf simFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	kcfg, err := kf.config()
	if err != nil {
		return err
	}
	all, err := tf.topics()
	if err != nil {
		return err
	}
	topics := all.Sources
	if len(kcfg.Brokers) == 0 && *outPath == "" {
		return fmt.Errorf("--brokers or --out is required (healthcode run --simulate runs the simulator against the embedded broker)")
	}
	secret, err := key.resolve(*dev || (*outPath != "" && sf.truth == ""))
	if err != nil {
		return err
	}
	if *outPath != "" {
		return simulateToFile(ctx, *outPath, sf, secret, stdout)
	}
	var specs []kafka.TopicSpec
	for _, s := range sources.Streams {
		specs = append(specs, kafka.TopicSpec{Name: topics[s], Partitions: *partitions})
	}
	kc, err := kafka.New(kcfg)
	if err != nil {
		return err
	}
	if err := kc.EnsureTopics(ctx, specs...); err != nil {
		return err
	}
	bar := newProgress(os.Stderr)
	r := simulateInto(ctx, kc, topics, sf, secret, bar)
	bar.done()
	if r.err != nil {
		return r.err
	}
	fmt.Fprintf(stdout, "simulated %d people over %d days: %d messages in %s\n", sf.people, sf.days, r.messages, r.took.Round(time.Millisecond))
	for _, s := range sources.Streams {
		fmt.Fprintf(stdout, "  %-14s %d\n", topics[s], r.summary.Messages[s])
	}
	return nil
}

type simResult struct {
	summary  sim.Summary
	messages int
	days     int
	took     time.Duration
	err      error
}

// simulateInto runs the simulator and produces its messages into the upstream
// topics; it returns once every message is acknowledged.
func simulateInto(ctx context.Context, kc *kafka.Client, topics map[sources.Stream]string, sf simFlags, secret []byte, bar *progress) simResult {
	start := time.Now()
	cfg, err := sf.config(secret)
	if err != nil {
		return simResult{err: err}
	}
	if sf.truth != "" {
		f, err := os.Create(sf.truth)
		if err != nil {
			return simResult{err: err}
		}
		defer f.Close()
		cfg.Truth = f
	}
	prod := pipeline.NewUpstreamProducer(kc, topics)
	sum, err := sim.Run(ctx, cfg, func(m sim.Message) error {
		before := prod.Sent()
		if err := prod.Add(ctx, m.Stream, m.Key, m.Value); err != nil {
			return err
		}
		if bar != nil && prod.Sent() != before {
			bar.produced(prod.Sent())
		}
		return nil
	})
	if cerr := prod.Close(ctx); err == nil {
		err = cerr
	}
	return simResult{summary: sum, messages: int(prod.Sent()), days: sf.days, took: time.Since(start), err: err}
}

// simulateToFile writes the simulated messages as JSON lines, for inspection,
// replay by other tools, or measuring the simulator alone.
func simulateToFile(ctx context.Context, path string, sf simFlags, secret []byte, stdout io.Writer) error {
	var w io.Writer = stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	start := time.Now()
	var line []byte
	n := 0
	cfg, err := sf.config(secret)
	if err != nil {
		return err
	}
	sum, err := sim.Run(ctx, cfg, func(m sim.Message) error {
		line = append(line[:0], `{"topic":`...)
		line = strconv.AppendQuote(line, m.Stream.DefaultTopic())
		line = append(line, `,"key":`...)
		line = strconv.AppendQuote(line, string(m.Key))
		line = append(line, `,"value":`...)
		line = append(line, m.Value...)
		line = append(line, "}\n"...)
		n++
		_, err := bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return err
	}
	if path != "-" {
		took := time.Since(start)
		fmt.Fprintf(stdout, "simulated %d people over %d days: %d messages (%d bytes of JSON) in %s, %.0f messages/s\n",
			sum.People, sf.days, n, sum.Bytes, took.Round(time.Millisecond), float64(n)/took.Seconds())
	}
	return nil
}
