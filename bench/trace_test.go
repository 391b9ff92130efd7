package bench

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// The contact-tracing benchmark: one place partition's Tracer holding 16 days
// of presences (HEALTHCODE_BENCH_PRESENCES, default 50,000,000; 1,000,000 under
// -short), then cases with 14 days of presences at busy venues, cells and
// flights, each marked over those 14 days. It reports:
//
//	trace_case_ms             time for AddMark to return every exposure of a case (mean of the cases)
//	trace_case_max_ms         the slowest case
//	exposures/case            exposures found per case
//	trace_bytes_per_presence  Tracer.Bytes() / Tracer.Len()
//	heap_bytes_per_presence   live heap after a GC / Len (checks Bytes' accounting)
//	build_ns_per_presence     AddPresence cost while building
//
// Run it with:
//
//	go test ./bench -run '^$' -bench BenchmarkTrace -benchtime 10x -timeout 60m
//
// Goals: trace_case_ms <= 100 and trace_bytes_per_presence <= 24 at 50M.
// The generator lives in trace.go, shared with the Trace section of the report.

func presencesToGenerate(tb testing.TB) int {
	n := 50_000_000
	if testing.Short() {
		n = 1_000_000
	}
	if s := os.Getenv("HEALTHCODE_BENCH_PRESENCES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10_000 {
			tb.Fatalf("HEALTHCODE_BENCH_PRESENCES=%q: want a number of at least 10000", s)
		}
		n = v
	}
	return n
}

func BenchmarkTrace(b *testing.B) {
	n := presencesToGenerate(b)
	g, err := newTraceGen(n)
	if err != nil {
		b.Fatal(err)
	}
	tr := tracing.New(g.p, tracing.Options{Expected: n})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var out []tracing.Exposure
	fed := g.run(func(p *tracing.Presence) { out = tr.AddPresence(*p, out[:0]) })
	build := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.Logf("built %d presences (%d held) in %s; Bytes %d; heap %d -> %d", fed, tr.Len(), build.Round(time.Millisecond),
		tr.Bytes(), before.HeapAlloc, after.HeapAlloc)

	var first []float64
	total := 0
	i := 0
	for b.Loop() {
		c := i % traceCases
		m := g.caseMark(c)
		if i >= traceCases { // a new mark: the join runs again, its exposures were emitted already
			m.ID = fmt.Sprint(m.ID, "-", i)
		}
		t := time.Now()
		out = tr.AddMark(m, out[:0])
		if i < traceCases {
			first = append(first, float64(time.Since(t).Microseconds())/1000)
			total += len(out)
		}
		i++
	}
	if len(first) < traceCases {
		b.Fatalf("ran %d marks, want at least %d: use -benchtime %dx or more", len(first), traceCases, traceCases)
	}
	var sum float64
	for _, ms := range first {
		sum += ms
	}
	b.ReportMetric(sum/float64(len(first)), "trace_case_ms")
	b.ReportMetric(slices.Max(first), "trace_case_max_ms")
	b.ReportMetric(float64(total)/float64(len(first)), "exposures/case")
	b.ReportMetric(float64(tr.Bytes())/float64(tr.Len()), "trace_bytes_per_presence")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tr.Len()), "heap_bytes_per_presence")
	b.ReportMetric(float64(build.Nanoseconds())/float64(fed), "build_ns_per_presence")
}

// TestTraceBenchSmoke runs the benchmark's code at 100,000 presences and checks
// each case's exposures against a brute-force reading of the definitions over
// the generated presences.
func TestTraceBenchSmoke(t *testing.T) {
	g, err := newTraceGen(100_000)
	if err != nil {
		t.Fatal(err)
	}
	tr := tracing.New(g.p, tracing.Options{Expected: g.n})
	var all []tracing.Presence
	fed := g.run(func(p *tracing.Presence) {
		all = append(all, *p)
		if x := tr.AddPresence(*p, nil); len(x) != 0 {
			t.Fatalf("exposures before any mark: %d", len(x))
		}
	})
	if tr.Len() != fed || fed < g.n {
		t.Fatalf("fed %d, held %d, want %d", fed, tr.Len(), g.n)
	}
	byPlace := map[string][]*tracing.Presence{}
	for i := range all {
		byPlace[all[i].PlaceKey()] = append(byPlace[all[i].PlaceKey()], &all[i])
	}
	for c := range traceCases {
		m := g.caseMark(c)
		got := tr.AddMark(m, nil)
		want := bruteForceCase(g.p, all, byPlace, m)
		if len(got) != len(want) || len(got) < 50 {
			t.Errorf("case %d: %d exposures, brute force %d", c, len(got), len(want))
		}
		for _, x := range got {
			k := fmt.Sprintf("%x %d %s %d %d", x.Exposed, x.Kind, x.Place, x.Start, x.End)
			if !want[k] {
				t.Errorf("case %d: unexpected exposure %s", c, k)
			}
			if x.Source != m.Person || x.Evidence[0] != m.ID {
				t.Errorf("case %d: source %s, evidence %q", c, x.Source, x.Evidence)
			}
		}
	}
	t.Logf("%d presences, %.1f bytes each", tr.Len(), float64(tr.Bytes())/float64(tr.Len()))
}

// bruteForceCase lists the exposures of a case mark by checking every pair:
// one per identity (exposed, kind, place), spanning its overlaps.
func bruteForceCase(p *scoring.Policy, all []tracing.Presence, byPlace map[string][]*tracing.Presence, m scoring.Mark) map[string]bool {
	type span struct{ start, end scoring.Time }
	spans := map[string]span{}
	for i := range all {
		pp := &all[i]
		if pp.Person != m.Person {
			continue
		}
		cs, ce := max(pp.Start, m.From), min(pp.End, m.To)
		if cs > ce {
			continue
		}
		for _, q := range byPlace[pp.PlaceKey()] {
			os, oe := max(cs, q.Start), min(ce, q.End)
			if q.Person == m.Person || os > oe {
				continue
			}
			if kind := bruteKind(p, pp.Kind, oe-os, pp.Row, q.Row); kind != 0 {
				k := fmt.Sprintf("%x %d %s", q.Person, kind, pp.PlaceKey())
				if sp, ok := spans[k]; ok {
					os, oe = min(os, sp.start), max(oe, sp.end)
				}
				spans[k] = span{os, oe}
			}
		}
	}
	want := map[string]bool{}
	for k, sp := range spans {
		want[fmt.Sprintf("%s %d %d", k, sp.start, sp.end)] = true
	}
	return want
}
