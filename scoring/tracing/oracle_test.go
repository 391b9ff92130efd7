package tracing_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// TestTracer_MatchesBruteForce feeds a tracer enough random presences to fill
// several segments, with marks, designations and duplicates interleaved in a
// random order, and compares what it emits with a brute-force reading of the
// definitions over the final data.
func TestTracer_MatchesBruteForce(t *testing.T) {
	p := trPolicy(t)
	rng := rand.New(rand.NewPCG(11, 12))
	const (
		people  = 4000
		n       = 150_000
		span    = 5 * 24 * time.Hour
		flights = 3
	)
	cells := make([]uint64, 6)
	for i := range cells {
		cells[i] = uint64(h3.LatLngToCell(h3.NewLatLng(30.2+0.01*float64(i), 120.1), p.Contacts.CompanionH3Res))
	}
	regions := []string{"330102", "330103", "330104"}
	who := func(i int) scoring.PersonKey { return trWho(fmt.Sprint("p", i)) }
	var ps []tracing.Presence
	for i := range n {
		pr := tracing.Presence{Person: who(rng.IntN(people)), ID: fmt.Sprintf("ev-%d", i)}
		start := trAt(time.Duration(rng.Int64N(int64(span/time.Second))) * time.Second)
		dur := time.Duration(rng.IntN(3*3600)) * time.Second
		switch k := rng.IntN(10); {
		case k < 5:
			pr.Kind, pr.Place = tracing.PlaceVenue, fmt.Sprint("V", rng.IntN(60))
		case k < 8:
			pr.Kind, pr.Cell = tracing.PlaceCell, cells[rng.IntN(len(cells))]
		case k < 9:
			pr.Kind, pr.Place, pr.Travel = tracing.PlaceRegion, regions[rng.IntN(len(regions))], true
			dur = time.Duration(rng.IntN(8*3600)) * time.Second
		default:
			f := rng.IntN(flights)
			pr.Kind, pr.Place = tracing.PlaceFlight, fmt.Sprintf("F%d/2020-03-1%d", f, f)
			start, dur = trAt(time.Duration(f*30)*time.Hour), 10*time.Hour+time.Duration(f)*time.Second
			pr.Row = int16(rng.IntN(40) + 1)
			if rng.IntN(20) == 0 {
				pr.Row = scoring.RowCrew
			}
		}
		pr.Start, pr.End = start, start.Add(dur)
		ps = append(ps, pr)
	}
	// Marked people get extra presences at busy places so the joins are big.
	// Some cases get a second, earlier positive (a later-sample mark first in
	// some orders: the earlier window must win); some close marks are
	// replaced by a narrower window of the same id, and one is retracted (the
	// engine sends those in order, so their relative order is kept).
	var marks []scoring.Mark // every mark sent
	var chains [][]int       // indices into marks that must keep their order
	var final []scoring.Mark // the marks in force at the end
	for i := range 8 {
		m := scoring.Mark{Person: who(i), Level: scoring.MarkCase, From: trAt(time.Duration(rng.IntN(48)) * time.Hour), ID: fmt.Sprint("pcr-", i)}
		m.To = m.From.Add(time.Duration(24+rng.IntN(72)) * time.Hour)
		if i >= 5 {
			m.Level, m.Source, m.ID = scoring.MarkClose, who(i-5), fmt.Sprint("exp-close-", i)
		}
		for j := range 40 {
			pr := ps[rng.IntN(len(ps))]
			pr.Person, pr.ID = m.Person, fmt.Sprintf("extra-%d-%d", i, j)
			ps = append(ps, pr)
		}
		switch {
		case i < 3: // an earlier positive arrives too
			early := m
			early.From, early.ID = m.From.Add(-time.Duration(6+rng.IntN(30))*time.Hour), fmt.Sprint("pcr-early-", i)
			marks = append(marks, m, early)
			final = append(final, early)
		case i == 5 || i == 6: // the close exposure's window narrows
			narrow := m
			narrow.From = m.From.Add(time.Duration(6+rng.IntN(12)) * time.Hour)
			chains = append(chains, []int{len(marks), len(marks) + 1})
			marks = append(marks, m, narrow)
			final = append(final, narrow)
		case i == 7: // the close exposure is taken back
			chains = append(chains, []int{len(marks), len(marks) + 1})
			marks = append(marks, m, scoring.Mark{Person: m.Person, Level: scoring.MarkClose, ID: m.ID, Retracted: true})
		default:
			marks = append(marks, m)
			final = append(final, m)
		}
	}
	// A mark for a case seen nowhere, and an open-ended one.
	extra := []scoring.Mark{{Person: trWho("nobody"), Level: scoring.MarkCase, From: trAt(0), To: trAt(time.Hour), ID: "pcr-x"},
		{Person: who(8), Level: scoring.MarkCase, From: trAt(96 * time.Hour), ID: "pcr-open"}}
	marks, final = append(marks, extra...), append(final, extra...)
	c6 := h3.Cell(cells[2]).Parent(6)
	designations := []scoring.Designation{
		{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh, From: trAt(24 * time.Hour), Until: trAt(60 * time.Hour), ID: "d1"},
		{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskLow, From: trAt(40 * time.Hour), ID: "d1-lowered"},
		{Kind: scoring.AreaRegion, Code: "330103", Level: scoring.RiskMedium, From: trAt(10 * time.Hour), ID: "d2"},
		{Kind: scoring.AreaRegion, Code: "330104", Level: scoring.RiskHigh, From: trAt(10 * time.Hour), ID: "d4"},
		{Kind: scoring.AreaRegion, Code: "330104", Level: scoring.RiskMedium, From: trAt(30 * time.Hour), Until: trAt(80 * time.Hour), ID: "d4-medium"},
		{Kind: scoring.AreaH3, Code: c6.String(), Cell: uint64(c6), Level: scoring.RiskHigh, From: trAt(50 * time.Hour), Until: trAt(70 * time.Hour), ID: "d3"},
		{Kind: scoring.AreaH3, Code: c6.String(), Cell: uint64(c6), Level: scoring.RiskLow, From: trAt(60 * time.Hour), ID: "d3-lowered"},
	}
	want := bruteForce(p, ps, final, designations)
	if len(want) < 200 {
		t.Fatalf("only %d expected exposures: the test data is too thin", len(want))
	}

	// Arrival orders: shuffled, with 1% of presences sent twice; the marks of
	// one chain are put back in their order.
	type input struct {
		pr *tracing.Presence
		m  *scoring.Mark
		d  *scoring.Designation
	}
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(21, seed))
		var in []input
		for i := range ps {
			in = append(in, input{pr: &ps[i]})
			if rng.IntN(100) == 0 {
				in = append(in, input{pr: &ps[i]})
			}
		}
		for i := range marks {
			in = append(in, input{m: &marks[i]})
		}
		for i := range designations {
			in = append(in, input{d: &designations[i]})
		}
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		for _, ch := range chains {
			var pos []int
			for k, x := range in {
				if x.m != nil && slices.ContainsFunc(ch, func(mi int) bool { return x.m == &marks[mi] }) {
					pos = append(pos, k)
				}
			}
			for j, k := range pos {
				in[k] = input{m: &marks[ch[j]]}
			}
		}
		tr := tracing.New(p, tracing.Options{Expected: len(ps)})
		var got []tracing.Exposure
		for _, x := range in {
			switch {
			case x.pr != nil:
				got = tr.AddPresence(*x.pr, got)
			case x.m != nil:
				got = tr.AddMark(*x.m, got)
			default:
				got = tr.AddDesignation(*x.d, got)
			}
		}
		if tr.Len() != len(ps) {
			t.Errorf("seed %d: Len %d, want %d (duplicates ignored)", seed, tr.Len(), len(ps))
		}
		gotKeys := map[string]bool{}
		for _, x := range trCurrent(t, got) {
			k := exposureKey(&x)
			if gotKeys[k] {
				t.Errorf("seed %d: current twice: %s", seed, k)
			}
			gotKeys[k] = true
			if len(x.Evidence) < 2 {
				t.Errorf("seed %d: %s: evidence %q", seed, k, x.Evidence)
			}
		}
		missing, unexpected := 0, 0
		for k := range want {
			if !gotKeys[k] {
				if missing++; missing < 10 {
					t.Errorf("seed %d: missing %s", seed, k)
				}
			}
		}
		for k := range gotKeys {
			if !want[k] {
				if unexpected++; unexpected < 10 {
					t.Errorf("seed %d: unexpected %s", seed, k)
				}
			}
		}
		retracted := 0
		for _, x := range got {
			if x.Retracted {
				retracted++
			}
		}
		t.Logf("seed %d: %d presences, %d versions emitted (%d retractions), %d current, %d missing, %d unexpected; %d bytes held (%.1f a presence)",
			seed, tr.Len(), len(got), retracted, len(gotKeys), missing, unexpected, tr.Bytes(), float64(tr.Bytes())/float64(tr.Len()))
	}
}

func exposureKey(x *tracing.Exposure) string {
	return fmt.Sprintf("%d %x<-%x %s %d..%d at %d first %d w %d ev %q", x.Kind, x.Exposed[:4], x.Source[:4], x.Place, x.Start, x.End, x.At, x.First, x.WindowEnd, x.Evidence)
}

// oracleAgg aggregates the overlaps of one identity as the tracer defines it:
// the span of the overlaps, the latest and earliest exposure times, and the
// evidence of the latest (ties: the smallest evidence).
type oracleAgg struct {
	x tracing.Exposure
	n int
}

func (a *oracleAgg) add(start, end, at, wend scoring.Time, ev []string) {
	if a.n == 0 {
		a.x.Start, a.x.End, a.x.At, a.x.First, a.x.WindowEnd, a.x.Evidence = start, end, at, at, wend, ev
		a.n = 1
		return
	}
	a.n++
	a.x.Start, a.x.End, a.x.First, a.x.WindowEnd = min(a.x.Start, start), max(a.x.End, end), min(a.x.First, at), max(a.x.WindowEnd, wend)
	if at > a.x.At || (at == a.x.At && slices.Compare(ev, a.x.Evidence) < 0) {
		a.x.At, a.x.Evidence = at, ev
	}
}

// bruteForce applies the definitions of docs/policies.md to every pair of presences under
// the marks and designations in force at the end, and aggregates by identity.
func bruteForce(p *scoring.Policy, ps []tracing.Presence, marks []scoring.Mark, ds []scoring.Designation) map[string]bool {
	closeOv := scoring.Time(p.Contacts.CloseOverlap.Std() / time.Second)
	compOv := scoring.Time(p.Contacts.CompanionOverlap.Std() / time.Second)
	minStay := scoring.Time(p.Params.RegionMinStay.Std() / time.Second)
	byPlace := map[string][]*tracing.Presence{}
	for i := range ps {
		byPlace[ps[i].PlaceKey()] = append(byPlace[ps[i].PlaceKey()], &ps[i])
	}
	aggs := map[string]*oracleAgg{}
	agg := func(kind scoring.ExposureKind, exposed, source scoring.PersonKey, place string) *oracleAgg {
		k := fmt.Sprintf("%d %x %x %s", kind, exposed, source, place)
		if aggs[k] == nil {
			aggs[k] = &oracleAgg{x: tracing.Exposure{Exposed: exposed, Source: source, Kind: kind, Place: place}}
		}
		return aggs[k]
	}
	for _, m := range marks {
		to := m.To
		if to == 0 {
			to = scoring.MaxTime
		}
		for i := range ps {
			pp := &ps[i]
			if pp.Person != m.Person || pp.Kind == tracing.PlaceRegion {
				continue
			}
			cs, ce := max(pp.Start, m.From), min(pp.End, to)
			if cs > ce || (pp.Kind == tracing.PlaceFlight && m.Level == scoring.MarkClose && cs == ce) {
				continue
			}
			for _, q := range byPlace[pp.PlaceKey()] {
				if q.Person == m.Person || (m.Level == scoring.MarkClose && q.Person == m.Source) {
					continue
				}
				os, oe := max(cs, q.Start), min(ce, q.End)
				if os > oe {
					continue
				}
				var kind scoring.ExposureKind
				switch pp.Kind {
				case tracing.PlaceVenue:
					if oe-os >= closeOv {
						kind = scoring.ExposureClose
					}
				case tracing.PlaceCell:
					if oe-os >= compOv && m.Level == scoring.MarkCase {
						kind = scoring.ExposureCompanion
					}
				case tracing.PlaceFlight:
					d := int(pp.Row) - int(q.Row)
					switch {
					case q.Row == scoring.RowCrew || (pp.Row != scoring.RowCrew && d >= -3 && d <= 3):
						kind = scoring.ExposureClose
					case m.Level == scoring.MarkCase:
						kind = scoring.ExposureCompanion
					}
				}
				if kind == 0 {
					continue
				}
				if m.Level == scoring.MarkClose {
					kind = scoring.ExposureSecondary
				}
				agg(kind, q.Person, m.Person, pp.PlaceKey()).add(os, oe, oe, m.To, []string{m.ID, pp.ID, q.ID})
			}
		}
	}
	for i, d := range ds {
		kind, ok := scoring.AreaExposure(d.Level)
		if !ok {
			continue
		}
		// In force until its Until or the start of the next designation of
		// its area, whichever is first.
		end := d.Until
		for j, e := range ds {
			if j != i && e.Kind == d.Kind && e.Code == d.Code && e.From > d.From && (end == 0 || e.From < end) {
				end = e.From
			}
		}
		for i := range ps {
			s := &ps[i]
			switch {
			case d.Kind == scoring.AreaRegion && (s.Kind != tracing.PlaceRegion || s.Place != d.Code):
				continue
			case d.Kind == scoring.AreaH3 && (s.Kind != tracing.PlaceCell || uint64(h3.Cell(s.Cell).Parent(h3.Cell(d.Cell).Resolution())) != d.Cell):
				continue
			}
			if s.Travel && s.End-s.Start < minStay {
				continue
			}
			last := s.Start
			if s.End > s.Start {
				last = s.End - 1
			}
			if d.From > last || (end != 0 && end <= s.Start) {
				continue
			}
			xe := s.End
			if end != 0 && end < xe {
				xe = end
			}
			agg(kind, s.Person, scoring.PersonKey{}, s.PlaceKey()).add(max(s.Start, d.From), xe, s.End, 0, []string{d.ID, s.ID})
		}
	}
	out := map[string]bool{}
	for _, a := range aggs {
		out[exposureKey(&a.x)] = true
	}
	return out
}

// TestTracer_ExpireReclaims fills segments over three weeks of time and checks
// that Expire gives their memory back while the recent presences still match.
func TestTracer_ExpireReclaims(t *testing.T) {
	p := trPolicy(t)
	rng := rand.New(rand.NewPCG(3, 4))
	tr := tracing.New(p, tracing.Options{})
	const perDay = 20_000
	for day := range 21 {
		for i := range perDay {
			start := trAt(time.Duration(day)*24*time.Hour + time.Duration(i)*86400/perDay*time.Second)
			tr.AddPresence(tracing.Presence{Person: trWho(fmt.Sprint("p", rng.IntN(30_000))), Kind: tracing.PlaceVenue,
				Place: fmt.Sprint("V", rng.IntN(2000)), Start: start, End: start.Add(time.Hour), ID: fmt.Sprintf("d%d-%d", day, i)}, nil)
		}
	}
	full, fullBytes := tr.Len(), tr.Bytes()
	if full != 21*perDay {
		t.Fatalf("Len %d", full)
	}
	now := trAt(21 * 24 * time.Hour)
	tr.Expire(now)
	cutoff := now.Add(-p.Contacts.Lookback.Std())
	// Every day before the horizon is gone, up to one segment of stragglers.
	kept := 21*perDay - int(int64(cutoff-trT0)/86400*perDay)
	if tr.Len() < kept || tr.Len() > kept+65535 {
		t.Errorf("Len %d after Expire, want about %d", tr.Len(), kept)
	}
	// Each dropped presence gives back its packed record (about 10 bytes at
	// these sizes); the tables of people and places and the buffers of the
	// segments being filled stay.
	const recBytes = 8
	if b := tr.Bytes(); b > fullBytes-recBytes*(full-tr.Len()) {
		t.Errorf("Bytes %d after Expire, %d before: not reclaimed", b, fullBytes)
	}
	t.Logf("Len %d -> %d, Bytes %d -> %d", full, tr.Len(), fullBytes, tr.Bytes())
	// Expire again once the last stay has ended: the rest goes.
	tr.Expire(now.Add(p.Contacts.Lookback.Std() + 2*time.Hour))
	if tr.Len() != 0 || tr.Bytes() > fullBytes-recBytes*full {
		t.Errorf("Len %d, Bytes %d, want 0 and %d bytes less than %d", tr.Len(), tr.Bytes(), recBytes*full, fullBytes)
	}
}
