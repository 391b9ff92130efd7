package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"healthcode/bench"
)

func benchCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bench", "bench [--quick] [--out DIR] [--people N] [--presences N] [--e2e-people N] [--latency-rate N] [--clickhouse ADDR]")
	quick := fs.Bool("quick", false, "smoke sizes that finish in seconds (figures not meaningful)")
	out := fs.String("out", bench.DefaultOut, "directory for report.json, report.md and e2e.cpu.pprof")
	people := fs.Int("people", 0, fmt.Sprintf("persons in the scoring core (default %d; quick %d)", bench.DefaultPeople, bench.QuickPeople))
	coreEvents := fs.Int("core-events", 0, "events timed through the scoring core (default 2 × people)")
	presences := fs.Int("presences", 0, fmt.Sprintf("presences in the contact tracer (default %d; quick %d)", bench.DefaultPresences, bench.QuickPresences))
	sinkRows := fs.Int("sink-rows", 0, fmt.Sprintf("events written to ClickHouse (default %d; quick %d)", bench.DefaultSinkRows, bench.QuickSinkRows))
	e2ePeople := fs.Int("e2e-people", 0, fmt.Sprintf("simulated people end to end (default %d; quick %d)", bench.DefaultE2EPeople, bench.QuickE2EPeople))
	e2eDays := fs.Int("e2e-days", 0, fmt.Sprintf("simulated days end to end (default %d)", bench.DefaultE2EDays))
	rate := fs.Int("latency-rate", 0, fmt.Sprintf("offered events/s of the latency run (default %d; quick %d)", bench.DefaultLatencyRate, bench.QuickLatencyRate))
	latencyFor := fs.Duration("latency-duration", 0, fmt.Sprintf("length of the latency run (default %s; quick %s)", bench.DefaultLatencyDuration, bench.QuickLatencyDuration))
	scalePeople := fs.Int("scale-people", 0, "simulated people of the scale run: one day through broker, simulator and pipeline processes (default 10000000; quick 20000)")
	chf := addClickHouseFlags(fs, false)
	db := fs.String("clickhouse-db", bench.DefaultBenchDatabase, "prefix of the ClickHouse databases the benchmark creates and drops")
	only := fs.String("sections", "", "comma-separated sections to run (default all: "+strings.Join(bench.SectionNames(), ",")+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ch, err := chf.options()
	if err != nil {
		return err
	}
	ch.Database = *db
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var sections []string
	if *only != "" {
		sections = strings.Split(*only, ",")
	}
	rep, err := bench.Run(ctx, bench.Options{
		Sections: sections,
		Out:      *out, Quick: *quick, Logger: slog.Default(),
		ClickHouse: ch,
		People:     *people, CoreEvents: *coreEvents, Presences: *presences, SinkRows: *sinkRows,
		E2EPeople: *e2ePeople, E2EDays: *e2eDays, LatencyRate: *rate, LatencyDuration: *latencyFor,
		ScalePeople: *scalePeople,
	})
	if rep != nil {
		fmt.Fprint(stdout, rep.Markdown())
	}
	return err
}
