package bench

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"healthcode/sinks/clickhouse/chtest"
)

// TestEndToEndAndLatency_Smoke runs the end-to-end and latency sections at
// smoke sizes against a real ClickHouse and checks that every figure they
// promise is there with a finite value, and that the CPU profile was written
// and analysed. It asserts nothing about the figures themselves.
func TestEndToEndAndLatency_Smoke(t *testing.T) {
	ch := chtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := &Options{Quick: true, Out: t.TempDir(), ClickHouse: ch,
		E2EPeople: 1000, LatencyRate: 1000, LatencyDuration: time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	r := NewReport()
	if err := EndToEnd(ctx, o, r); err != nil {
		t.Fatalf("EndToEnd: %v", err)
	}
	if want := ch.Database + "_e2e"; o.E2EDatabase != want {
		t.Errorf("E2EDatabase = %q, want %q", o.E2EDatabase, want)
	}
	if err := Latency(ctx, o, r); err != nil {
		t.Fatalf("Latency: %v", err)
	}
	for _, k := range []string{
		"ceiling_events_per_sec", "e2e_events_per_sec", "e2e_ratio", "rss_bytes_per_million_people_embedded",
		"e2e_upstream_messages", "e2e_colour_updates", "e2e_seconds",
		"e2e_cpu_share_ingest", "e2e_cpu_share_score", "e2e_cpu_share_trace", "e2e_cpu_share_sink",
		"latency_p50_ms", "latency_p99_ms", "latency_max_ms", "latency_offered_events_per_sec",
	} {
		if v := r.Value(k); math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %v: want a finite number", k, v)
		}
	}
	for _, f := range r.Figures {
		if f.Baseline != "" && (math.IsNaN(f.BaselineValue) || math.IsInf(f.BaselineValue, 0)) {
			t.Errorf("%s: baseline %q = %v: want a measured value", f.Key, f.Baseline, f.BaselineValue)
		}
	}
	if fi, err := os.Stat(filepath.Join(o.Out, "e2e.cpu.pprof")); err != nil || fi.Size() == 0 {
		t.Errorf("cpu profile: %v (%d bytes)", err, sizeOf(fi))
	}
	t.Logf("%s", r.Markdown())
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
