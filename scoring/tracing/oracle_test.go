package tracing_test

import (
	"fmt"
	"math/rand/v2"
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
	var marks []scoring.Mark
	for i := range 8 {
		m := scoring.Mark{Person: who(i), Level: scoring.MarkCase, From: trAt(time.Duration(rng.IntN(48)) * time.Hour), ID: fmt.Sprint("pcr-", i)}
		m.To = m.From.Add(time.Duration(24+rng.IntN(72)) * time.Hour)
		if i >= 5 {
			m.Level, m.Source = scoring.MarkClose, who(i-5)
		}
		marks = append(marks, m)
		for j := range 40 {
			pr := ps[rng.IntN(len(ps))]
			pr.Person, pr.ID = m.Person, fmt.Sprintf("extra-%d-%d", i, j)
			ps = append(ps, pr)
		}
	}
	// A mark for a case seen nowhere, and an open-ended one.
	marks = append(marks, scoring.Mark{Person: trWho("nobody"), Level: scoring.MarkCase, From: trAt(0), To: trAt(time.Hour), ID: "pcr-x"},
		scoring.Mark{Person: who(8), Level: scoring.MarkCase, From: trAt(96 * time.Hour), ID: "pcr-open"})
	designations := []scoring.Designation{
		{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh, From: trAt(24 * time.Hour), Until: trAt(60 * time.Hour), ID: "d1"},
		{Kind: scoring.AreaRegion, Code: "330103", Level: scoring.RiskMedium, From: trAt(10 * time.Hour), ID: "d2"},
		{Kind: scoring.AreaH3, Code: h3.Cell(cells[2]).Parent(6).String(), Cell: uint64(h3.Cell(cells[2]).Parent(6)), Level: scoring.RiskHigh, From: trAt(50 * time.Hour), Until: trAt(70 * time.Hour), ID: "d3"},
	}

	// Arrival order: shuffled, with 1% of presences sent twice.
	type input struct {
		pr *tracing.Presence
		m  *scoring.Mark
		d  *scoring.Designation
	}
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
		t.Errorf("Len %d, want %d (duplicates ignored)", tr.Len(), len(ps))
	}
	want := bruteForce(p, ps, marks, designations)
	if len(want) < 200 {
		t.Fatalf("only %d expected exposures: the test data is too thin", len(want))
	}
	gotKeys := map[string]bool{}
	ids := map[string]bool{}
	for _, x := range got {
		k := exposureKey(&x)
		if gotKeys[k] || ids[x.ID] {
			t.Errorf("emitted twice: %s", k)
		}
		gotKeys[k], ids[x.ID] = true, true
		if len(x.Evidence) < 2 {
			t.Errorf("%s: evidence %q", k, x.Evidence)
		}
	}
	for k := range want {
		if !gotKeys[k] {
			t.Errorf("missing %s", k)
		}
	}
	for k := range gotKeys {
		if !want[k] {
			t.Errorf("unexpected %s", k)
		}
	}
	t.Logf("%d presences, %d exposures, %d bytes held (%.1f a presence)", tr.Len(), len(got), tr.Bytes(), float64(tr.Bytes())/float64(tr.Len()))
}

func exposureKey(x *tracing.Exposure) string {
	return fmt.Sprintf("%d %x<-%x %s %d..%d at %d w %d", x.Kind, x.Exposed[:4], x.Source[:4], x.Place, x.Start, x.End, x.At, x.WindowEnd)
}

// bruteForce applies POLICY.md's definitions to every pair of presences.
func bruteForce(p *scoring.Policy, ps []tracing.Presence, marks []scoring.Mark, ds []scoring.Designation) map[string]bool {
	closeOv := scoring.Time(p.Contacts.CloseOverlap.Std() / time.Second)
	compOv := scoring.Time(p.Contacts.CompanionOverlap.Std() / time.Second)
	minStay := scoring.Time(p.Params.RegionMinStay.Std() / time.Second)
	byPlace := map[string][]*tracing.Presence{}
	for i := range ps {
		byPlace[ps[i].PlaceKey()] = append(byPlace[ps[i].PlaceKey()], &ps[i])
	}
	out := map[string]bool{}
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
			if cs > ce {
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
				var wend scoring.Time
				if m.Level == scoring.MarkClose {
					kind = scoring.ExposureSecondary
				} else if kind == scoring.ExposureClose {
					wend = m.To
				}
				x := tracing.Exposure{Exposed: q.Person, Source: m.Person, Kind: kind, Place: pp.PlaceKey(), Start: os, End: oe, At: oe, WindowEnd: wend}
				out[exposureKey(&x)] = true
			}
		}
	}
	for _, d := range ds {
		kind := scoring.ExposureAreaHigh
		if d.Level == scoring.RiskMedium {
			kind = scoring.ExposureAreaMedium
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
			if d.From > last || (d.Until != 0 && d.Until <= s.Start) {
				continue
			}
			x := tracing.Exposure{Exposed: s.Person, Kind: kind, Place: s.PlaceKey(), Start: max(s.Start, d.From), End: s.End, At: s.End}
			if d.Until != 0 && d.Until < x.End {
				x.End = d.Until
			}
			out[exposureKey(&x)] = true
		}
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
	// Each dropped presence gives back its record (21 bytes); the tables of
	// people and places and the segment being filled stay.
	if b := tr.Bytes(); b > fullBytes-20*(full-tr.Len()) {
		t.Errorf("Bytes %d after Expire, %d before: not reclaimed", b, fullBytes)
	}
	t.Logf("Len %d -> %d, Bytes %d -> %d", full, tr.Len(), fullBytes, tr.Bytes())
	// Expire again once the last stay has ended: the rest goes.
	tr.Expire(now.Add(p.Contacts.Lookback.Std() + 2*time.Hour))
	if tr.Len() != 0 || tr.Bytes() > fullBytes/3 {
		t.Errorf("Len %d, Bytes %d, want 0 and less than a third of %d", tr.Len(), tr.Bytes(), fullBytes)
	}
}
