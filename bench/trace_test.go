package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/policies"
	"healthcode/scoring"
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

const (
	traceDays     = 16
	traceCaseDays = 14
	traceCases    = 3
)

// traceGen generates one partition's presences in arrival order: check-ins
// (venue + its companion cell) at venues whose popularity falls off steeply,
// travel stays (region, and a cell for some), and flight manifests (every
// passenger when the flight lands). People and venues are uniform in number
// (20 presences a person, 250 a venue over the 16 days).
type traceGen struct {
	p       *scoring.Policy
	rng     *rand.Rand
	n       int // presences to generate
	t0      scoring.Time
	persons int
	venues  []traceVenue
	regions []string
	flights []traceFlight // by arrival
	cases   [][]traceEvent
	pending []traceEvent // case events not yet emitted, by arrival
	seq     uint64
	buf     []byte
}

type traceVenue struct {
	id         string
	fine, cell uint64
}

type traceFlight struct {
	place        string
	depart, land scoring.Time
	rows, crew   int
	seats        int
	caseRow      []int16 // rows of the cases on board
	casePerson   []scoring.PersonKey
}

type traceEvent struct {
	at scoring.Time // arrival
	ev scoring.Event
}

func newTraceGen(tb testing.TB, n int) *traceGen {
	p, err := policies.Load("domestic")
	if err != nil {
		tb.Fatal(err)
	}
	g := &traceGen{p: p, rng: rand.New(rand.NewPCG(2020, 3)), n: n, t0: scoring.MustTime("2020-03-01T00:00:00+08:00"),
		persons: max(n/20, 1000)}
	// Venues on real H3 cells around Hangzhou (about 1,600 res-8 cells).
	nv := max(n/250, 200)
	g.venues = make([]traceVenue, nv)
	for i := range g.venues {
		ll := h3.NewLatLng(30.15+0.25*g.rng.Float64(), 120.0+0.35*g.rng.Float64())
		fine := uint64(h3.LatLngToCell(ll, 15))
		g.venues[i] = traceVenue{id: fmt.Sprintf("V330102%06d", i), fine: fine, cell: scoring.H3Parent(fine, p.Contacts.CompanionH3Res)}
	}
	for i := range 100 {
		g.regions = append(g.regions, strconv.Itoa(330100+i))
	}
	// Flights: 2% of presences, 180 passengers and 10 crew each.
	nf := max(n/50/190, 4)
	span := int64(traceDays * 86400)
	for i := range nf {
		land := g.t0 + scoring.Time(int64(i)*span/int64(nf)) + scoring.Time(g.rng.IntN(3600))
		g.flights = append(g.flights, traceFlight{
			place:  fmt.Sprintf("CA%d/2020-03-%02d", 900+i%100, 1+int(land-g.t0)/86400),
			depart: land - scoring.Time(2*3600+g.rng.IntN(10*3600)), land: land, rows: 45, crew: 10, seats: 180,
		})
	}
	g.planCases()
	return g
}

func (g *traceGen) person(i uint64) scoring.PersonKey {
	var k scoring.PersonKey
	binary.LittleEndian.PutUint64(k[:8], splitmix(i))
	binary.LittleEndian.PutUint64(k[8:], splitmix(i^0x5bd1e995))
	return k
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *traceGen) caseKey(c int) scoring.PersonKey { return g.person(uint64(1<<40 + c)) }

// busyVenue picks one of the busiest venues (the head of the popularity curve).
func (g *traceGen) busyVenue() *traceVenue { return &g.venues[g.rng.IntN(min(20, len(g.venues)))] }

// planCases gives each case, over the last 14 days, two check-ins a day at busy
// venues (venue + cell), a travel stay with a location every other day (region
// + cell) and two flights: about 72 presences.
func (g *traceGen) planCases() {
	first := g.t0 + scoring.Time((traceDays-traceCaseDays)*86400)
	for c := range traceCases {
		key := g.caseKey(c)
		var evs []traceEvent
		for d := range traceCaseDays {
			day := first + scoring.Time(d*86400)
			for range 2 {
				v := g.busyVenue()
				at := day + scoring.Time(8*3600+g.rng.IntN(12*3600))
				evs = append(evs, traceEvent{at: at, ev: scoring.Event{Person: key, Kind: scoring.KindCheckin, Place: v.id, Cell: v.fine,
					At: at, End: at + 3600, ID: fmt.Sprintf("case%d-checkin-%d-%d", c, d, len(evs))}})
			}
			if d%2 == 0 {
				v := g.busyVenue()
				at := day + scoring.Time(g.rng.IntN(6*3600))
				evs = append(evs, traceEvent{at: at + 5*3600, ev: scoring.Event{Person: key, Kind: scoring.KindTravel, Place: g.regions[0], Cell: v.fine,
					At: at, End: at + 5*3600, ID: fmt.Sprintf("case%d-travel-%d", c, d)}})
			}
		}
		slices.SortFunc(evs, func(a, b traceEvent) int { return int(a.at) - int(b.at) })
		g.cases = append(g.cases, evs)
		g.pending = append(g.pending, evs...)
		// Two flights in the window.
		for range 2 {
			f := &g.flights[len(g.flights)-1-g.rng.IntN(len(g.flights)*traceCaseDays/traceDays)]
			f.casePerson = append(f.casePerson, key)
			f.caseRow = append(f.caseRow, int16(1+g.rng.IntN(f.rows)))
		}
	}
	slices.SortFunc(g.pending, func(a, b traceEvent) int { return int(a.at) - int(b.at) })
}

func (g *traceGen) id(prefix string) string {
	g.seq++
	g.buf = append(g.buf[:0], prefix...)
	g.buf = strconv.AppendUint(g.buf, g.seq, 10)
	return string(g.buf)
}

// run feeds every presence to emit in arrival order and returns how many it fed.
func (g *traceGen) run(emit func(p *scoring.Presence)) int {
	span := int64(traceDays * 86400)
	count := 0
	nextFlight := 0
	feed := func(ev *scoring.Event) {
		for _, p := range scoring.PresencesOf(ev, g.p) {
			emit(&p)
			count++
		}
	}
	for count < g.n {
		now := g.t0 + scoring.Time(int64(count)*span/int64(g.n))
		for len(g.pending) > 0 && g.pending[0].at <= now {
			feed(&g.pending[0].ev)
			g.pending = g.pending[1:]
		}
		for nextFlight < len(g.flights) && g.flights[nextFlight].land <= now {
			g.manifest(&g.flights[nextFlight], feed)
			nextFlight++
		}
		person := g.person(uint64(g.rng.IntN(g.persons)))
		switch r := g.rng.IntN(100); {
		case r < 92: // a check-in: venue and cell
			u := g.rng.Float64()
			v := &g.venues[int(u*u*float64(len(g.venues)))]
			start := now - scoring.Time(g.rng.IntN(120))
			ev := scoring.Event{Person: person, Kind: scoring.KindCheckin, Place: v.id, Cell: v.fine, At: start, ID: g.id("sim-s1-checkins-")}
			if g.rng.IntN(10) < 4 {
				ev.End = start + scoring.Time(600+g.rng.IntN(3*3600))
			}
			feed(&ev)
		default: // a travel record, uploaded up to a day late, some with a location
			start := now - scoring.Time(g.rng.IntN(86400))
			ev := scoring.Event{Person: person, Kind: scoring.KindTravel, Place: g.regions[g.rng.IntN(len(g.regions))], At: start,
				ID: g.id("sim-s1-travel-")}
			if g.rng.IntN(3) == 0 {
				ev.Cell = g.venues[g.rng.IntN(len(g.venues))].fine
			}
			if g.rng.IntN(2) == 0 {
				ev.End = start + scoring.Time(3600+g.rng.IntN(47*3600))
			}
			feed(&ev)
		}
	}
	for _, e := range g.pending { // cases after the last generated presence
		feed(&e.ev)
	}
	return count
}

func (g *traceGen) manifest(f *traceFlight, feed func(*scoring.Event)) {
	id := g.id("sim-s1-flights-")
	ev := scoring.Event{Kind: scoring.KindArrival, Place: f.place, Country: "DEU", At: f.land, End: f.depart, ID: id}
	// Distinct people on board: a stride through the population.
	first, stride := g.rng.IntN(g.persons), 1+g.rng.IntN(g.persons/(f.seats+f.crew))
	for s := 0; s < f.seats+f.crew; s++ {
		ev.Person, ev.Row = g.person(uint64((first+s*stride)%g.persons)), int16(1+g.rng.IntN(f.rows))
		if s >= f.seats {
			ev.Row = scoring.RowCrew
		}
		feed(&ev)
	}
	for i, k := range f.casePerson {
		ev.Person, ev.Row = k, f.caseRow[i]
		feed(&ev)
	}
}

// caseMark marks case c over the last 14 days.
func (g *traceGen) caseMark(c int) scoring.Mark {
	from := g.t0 + scoring.Time((traceDays-traceCaseDays)*86400)
	return scoring.Mark{Person: g.caseKey(c), Level: scoring.MarkCase, From: from, To: g.t0 + scoring.Time(traceDays*86400+3600),
		ID: fmt.Sprintf("pcr-case-%d", c)}
}

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
	g := newTraceGen(b, n)
	tr := scoring.NewTracer(g.p, scoring.TracerOptions{Expected: n})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var out []scoring.Exposure
	fed := g.run(func(p *scoring.Presence) { out = tr.AddPresence(*p, out[:0]) })
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
	g := newTraceGen(t, 100_000)
	tr := scoring.NewTracer(g.p, scoring.TracerOptions{Expected: g.n})
	var all []scoring.Presence
	fed := g.run(func(p *scoring.Presence) {
		all = append(all, *p)
		if x := tr.AddPresence(*p, nil); len(x) != 0 {
			t.Fatalf("exposures before any mark: %d", len(x))
		}
	})
	if tr.Len() != fed || fed < g.n {
		t.Fatalf("fed %d, held %d, want %d", fed, tr.Len(), g.n)
	}
	byPlace := map[string][]*scoring.Presence{}
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

// bruteForceCase lists the exposures of a case mark by checking every pair.
func bruteForceCase(p *scoring.Policy, all []scoring.Presence, byPlace map[string][]*scoring.Presence, m scoring.Mark) map[string]bool {
	closeOv := scoring.Time(p.Contacts.CloseOverlap.Std() / time.Second)
	compOv := scoring.Time(p.Contacts.CompanionOverlap.Std() / time.Second)
	want := map[string]bool{}
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
			var kind scoring.ExposureKind
			switch pp.Kind {
			case scoring.PlaceVenue:
				if oe-os >= closeOv {
					kind = scoring.ExposureClose
				}
			case scoring.PlaceCell:
				if oe-os >= compOv {
					kind = scoring.ExposureCompanion
				}
			case scoring.PlaceFlight:
				kind = scoring.ExposureCompanion
				if d := int(pp.Row) - int(q.Row); q.Row == scoring.RowCrew || (pp.Row != scoring.RowCrew && d >= -3 && d <= 3) {
					kind = scoring.ExposureClose
				}
			}
			if kind != 0 {
				want[fmt.Sprintf("%x %d %s %d %d", q.Person, kind, pp.PlaceKey(), os, oe)] = true
			}
		}
	}
	return want
}
