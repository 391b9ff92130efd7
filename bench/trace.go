package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/uber/h3-go/v4"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// Trace measures contact tracing on one place partition: a Tracer holding
// o.Presences presences over 16 days (traceGen), then the time AddMark takes
// to return every exposure of a case with 14 days of presences at busy places,
// beside a brute-force scan of every presence for the same case; and the
// Tracer's bytes per presence beside a naive []Presence record.
func Trace(ctx context.Context, o *Options, r *Report) error {
	g, err := newTraceGen(o.Presences)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	tr := tracing.New(g.p, tracing.Options{Expected: o.Presences})
	bf := newBruteIndex(o.Presences + o.Presences/20 + 1000)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var out []tracing.Exposure
	idBytes := 0
	fed := g.run(func(p *tracing.Presence) {
		out = tr.AddPresence(*p, out[:0])
		bf.add(p)
		idBytes += len(p.ID)
	})
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	o.Logger.Info("trace: built", "presences", fed, "held", tr.Len(), "took", build)
	if err := ctx.Err(); err != nil {
		return err
	}

	var traceMS, bruteMS []float64
	got, want := 0, 0
	for c := range traceCases {
		m := g.caseMark(c)
		t := time.Now()
		out = tr.AddMark(m, out[:0])
		traceMS = append(traceMS, float64(time.Since(t).Nanoseconds())/1e6)
		got += len(out)
		t = time.Now()
		n := bf.caseExposures(g.p, m)
		bruteMS = append(bruteMS, float64(time.Since(t).Nanoseconds())/1e6)
		want += n
	}
	if got != want {
		r.Note("trace: the Tracer found %d exposures for %d cases, the brute-force scan %d: they should agree", got, traceCases, want)
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	held := float64(tr.Len())
	naive := float64(unsafe.Sizeof(tracing.Presence{})) + float64(idBytes)/float64(fed)
	// The baseline's array was allocated before the first reading.
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / held
	r.Add(
		Figure{Key: "trace_case_ms", Value: mean(traceMS), Unit: "ms",
			Baseline: "brute force: two scans over every presence for the case", BaselineValue: mean(bruteMS), Goal: "<= 10",
			Note: fmt.Sprintf("Tracer.AddMark of a case marked over 14 days (about 72 presences at the busiest venues, cells and two flights), "+
				"on a partition holding %d presences of 16 days; mean of %d cases (slowest %.1f ms), %.0f exposures each. "+
				"The baseline scans a compact array of every presence (person, place, stay, row) twice: for the case's own presences, "+
				"then for everyone at those places, applying the same contact definitions; it found %d exposures, the Tracer %d. "+
				"Building the partition took %s (%.0f ns/presence, with the baseline's array).",
				tr.Len(), traceCases, slices.Max(traceMS), float64(got)/traceCases, want, got, build.Round(time.Millisecond),
				float64(build.Nanoseconds())/float64(fed))},
		Figure{Key: "trace_bytes_per_presence", Value: float64(tr.Bytes()) / held, Unit: "bytes",
			Baseline: "naive record: unsafe.Sizeof(tracing.Presence) + its event id's bytes", BaselineValue: naive, Goal: "<= 16",
			Note: fmt.Sprintf("Tracer.Bytes() / Tracer.Len() at %d presences; live heap after a GC says %.1f bytes/presence "+
				"(with the baseline's place table, not its array)", tr.Len(), heap)},
	)
	runtime.KeepAlive(bf)
	tr, bf, g = nil, nil, nil
	runtime.GC()
	debug.FreeOSMemory()
	return nil
}

// bruteIndex is the brute-force baseline's copy of every presence: a flat
// array of fixed-size records, places interned to numbers.
type bruteIndex struct {
	recs   []bruteRec
	places map[string]uint64
}

type bruteRec struct {
	person     scoring.PersonKey
	place      uint64 // PlaceCell: the cell; otherwise 1<<63 | kind<<48 | interned name
	start, end scoring.Time
	row        int16
	kind       tracing.PlaceKind
}

func newBruteIndex(n int) *bruteIndex {
	return &bruteIndex{recs: make([]bruteRec, 0, n), places: map[string]uint64{}}
}

func (b *bruteIndex) add(p *tracing.Presence) {
	place := p.Cell
	if p.Kind != tracing.PlaceCell {
		id, ok := b.places[p.Place]
		if !ok {
			id = 1<<63 | uint64(p.Kind)<<48 | uint64(len(b.places))
			b.places[p.Place] = id
		}
		place = id
	}
	b.recs = append(b.recs, bruteRec{person: p.Person, place: place, start: p.Start, end: p.End, row: p.Row, kind: p.Kind})
}

// bruteKind classifies a case's stay overlapping another person's by the
// policy's contact definitions (docs/policies.md): ov is the overlap, caseRow and
// row the seat rows on a flight. Zero means no exposure.
func bruteKind(p *scoring.Policy, place tracing.PlaceKind, ov scoring.Time, caseRow, row int16) scoring.ExposureKind {
	c := &p.Contacts
	switch place {
	case tracing.PlaceVenue:
		if ov >= scoring.Time(c.CloseOverlap.Std()/time.Second) {
			return scoring.ExposureClose
		}
	case tracing.PlaceCell:
		if ov >= scoring.Time(c.CompanionOverlap.Std()/time.Second) {
			return scoring.ExposureCompanion
		}
	case tracing.PlaceFlight:
		if d := int(caseRow) - int(row); row == scoring.RowCrew || (caseRow != scoring.RowCrew && d >= -c.CloseRows && d <= c.CloseRows) {
			return scoring.ExposureClose
		}
		return scoring.ExposureCompanion
	}
	return 0
}

// caseExposures returns the number of distinct exposures of mark m: every
// other person at a place of the case's presences within the marked window,
// overlapping long enough by the policy's contact definitions.
func (b *bruteIndex) caseExposures(p *scoring.Policy, m scoring.Mark) int {
	type stay struct {
		start, end scoring.Time
		row        int16
		kind       tracing.PlaceKind
	}
	mine := map[uint64][]stay{}
	for i := range b.recs {
		q := &b.recs[i]
		if q.person != m.Person {
			continue
		}
		if cs, ce := max(q.start, m.From), min(q.end, m.To); cs <= ce {
			mine[q.place] = append(mine[q.place], stay{cs, ce, q.row, q.kind})
		}
	}
	// One exposure per identity (exposed, kind, place): every overlap of the
	// pair at the place is part of it.
	type exposure struct {
		person scoring.PersonKey
		kind   scoring.ExposureKind
		place  uint64
	}
	found := map[exposure]struct{}{}
	for i := range b.recs {
		q := &b.recs[i]
		stays, ok := mine[q.place]
		if !ok || q.person == m.Person {
			continue
		}
		for _, s := range stays {
			os, oe := max(s.start, q.start), min(s.end, q.end)
			if os > oe {
				continue
			}
			if kind := bruteKind(p, s.kind, oe-os, s.row, q.row); kind != 0 {
				found[exposure{q.person, kind, q.place}] = struct{}{}
			}
		}
	}
	return len(found)
}

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

func newTraceGen(n int) (*traceGen, error) {
	p, err := policies.Load("domestic")
	if err != nil {
		return nil, fmt.Errorf("trace generator: %w", err)
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
	return g, nil
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
func (g *traceGen) run(emit func(p *tracing.Presence)) int {
	span := int64(traceDays * 86400)
	count := 0
	nextFlight := 0
	feed := func(ev *scoring.Event) {
		for _, p := range tracing.PresencesOf(ev, g.p) {
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
