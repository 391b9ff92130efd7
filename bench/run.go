package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// section is one part of the report.
type section struct {
	name string
	run  func(ctx context.Context, o *Options, r *Report) error
}

// sections lists the report's parts in the order Run runs them. BatchSQL
// reads the ClickHouse database EndToEnd filled (Options.E2EDatabase), so it
// runs after it. EndToEnd profiles the pipeline's CPU itself, around the
// pipeline run only (not its ceiling run or the producing), into
// Out/e2e.cpu.pprof, and notes the profile's top functions.
var sections = []section{
	{"core", Core},
	{"trace", Trace},
	{"sink", Sink},
	{"e2e", EndToEnd},
	{"latency", Latency},
	{"batch-sql", BatchSQL},
	{"codes", Codes},
	{"takeover", Takeover},
	{"peer", Peer},
	{"scale", Scale},
}

// SectionNames lists the sections, in the order Run runs them.
func SectionNames() []string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return names
}

// Run runs every section of the benchmark with o (defaults filled in) and
// writes report.json and report.md into o.Out. A failing section is noted in
// the report and the others still run; the files are written either way, and
// the error joins every section's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := NewReport()
	r.Note("sizes: %d people in the scoring core (%d events timed), %d presences in the tracer, %d rows to the sink, "+
		"%d simulated people over %d day(s) end to end, latency at %d events/s for %s%s",
		o.People, o.CoreEvents, o.Presences, o.SinkRows, o.E2EPeople, o.E2EDays, o.LatencyRate, o.LatencyDuration, quickNote(o.Quick))
	var errs []error
	for _, s := range sections {
		if len(o.Sections) > 0 && !slices.Contains(o.Sections, s.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		o.Logger.Info("bench: section starting", slog.String("section", s.name))
		start := time.Now()
		err := s.run(ctx, &o, r)
		took := time.Since(start)
		if err != nil {
			o.Logger.Error("bench: section failed", slog.String("section", s.name), slog.Any("err", err))
			r.Note("section %s FAILED after %s: %v", s.name, took.Round(time.Millisecond), err)
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
		} else {
			r.Note("section %s took %s", s.name, took.Round(time.Millisecond))
			o.Logger.Info("bench: section done", slog.String("section", s.name), slog.Duration("took", took))
		}
		// Each section's memory goes before the next one measures its own.
		runtime.GC()
		debug.FreeOSMemory()
	}
	r.Took = time.Since(r.Started)
	if err := r.WriteFiles(o.Out); err != nil {
		errs = append(errs, fmt.Errorf("write report: %w", err))
	} else {
		o.Logger.Info("bench: report written", slog.String("json", filepath.Join(o.Out, "report.json")),
			slog.String("md", filepath.Join(o.Out, "report.md")), slog.Duration("took", r.Took))
	}
	return r, errors.Join(errs...)
}

func sectionNames() string {
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func quickNote(quick bool) string {
	if quick {
		return " (quick smoke sizes: figures are not meaningful)"
	}
	return ""
}
