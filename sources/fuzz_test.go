package sources_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
	"healthcode/sources"
	"healthcode/sources/sourcestest"
)

// FuzzDecode feeds arbitrary bytes to every stream: no panic, rejections
// append nothing, accepted output is well-formed.
func FuzzDecode(f *testing.F) {
	index := map[sources.Stream]uint8{}
	for i, s := range sources.Streams {
		index[s] = uint8(i)
		f.Add(uint8(i), sources.Examples()[s])
	}
	for _, b := range sourcestest.BadInput() {
		f.Add(index[b.Stream], b.Value)
	}
	f.Add(uint8(0), []byte(`{"passengers":[{},{}],"flight":{}}`))
	f.Add(uint8(5), []byte(`{"symptoms":["fever",null,"\u0066ever"],"temperature_c":1e999}`))
	f.Add(uint8(6), []byte(`{"event_id":"e","source":"s","occurred_at":"2020-03-12T00:00:00Z","area":{"kind":"h3","code":"8830e1c6b5fffff"},"level":"high"}`))
	d := newDecoder(f, sources.Config{VenueCache: 64})
	f.Fuzz(func(t *testing.T, streamIdx uint8, data []byte) {
		s := sources.Streams[int(streamIdx)%len(sources.Streams)]
		b := sources.Batch{Events: []scoring.Event{{ID: "before"}}}
		err := d.Decode(s, data, &b)
		if err != nil {
			var re *sources.RejectError
			if !errors.As(err, &re) || re.Class < sources.RejectMalformed || re.Class > sources.RejectStream {
				t.Fatalf("error %v is not a classified *RejectError", err)
			}
			if len(b.Events) != 1 || len(b.Areas) != 0 || len(b.Overrides) != 0 {
				t.Fatal("a rejected message appended output")
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.IndexFunc(msg, unicode.IsControl) >= 0 {
				t.Fatalf("rejection %q is not one line of valid UTF-8", msg)
			}
			return
		}
		if s == sources.StreamAreaRisk {
			if len(b.Areas) != 1 || len(b.Events) != 1 {
				t.Fatalf("area-risk gave %d areas, %d events", len(b.Areas), len(b.Events)-1)
			}
			a := b.Areas[0]
			if a.Kind < scoring.AreaCountry || a.Kind > scoring.AreaH3 || a.Level < scoring.RiskLow || a.Level > scoring.RiskHigh ||
				a.From == 0 || (a.Until != 0 && a.Until <= a.From) || a.Code == "" || a.ID == "" ||
				(a.Kind == scoring.AreaH3) != (a.Cell != 0) || (a.Cell != 0 && !h3.Cell(a.Cell).IsValid()) {
				t.Fatalf("malformed designation %+v", a)
			}
			return
		}
		if s == sources.StreamOverrides {
			if len(b.Overrides) != 1 || len(b.Events) != 1 || len(b.Areas) != 0 {
				t.Fatalf("overrides gave %d overrides, %d events, %d areas", len(b.Overrides), len(b.Events)-1, len(b.Areas))
			}
			o := b.Overrides[0]
			if o.At == 0 || o.Until <= o.At || o.Person == (scoring.PersonKey{}) || o.Officer == o.Approver || o.ID == "" || o.Reason == "" || o.Confirms == o.ID {
				t.Fatalf("malformed override %+v", o)
			}
			return
		}
		evs := b.Events[1:]
		journey := s == sources.StreamDeclarations && len(evs) == 2 && evs[1].Kind == scoring.KindJourney
		if len(evs) == 0 || len(b.Areas) != 0 || (s != sources.StreamFlights && len(evs) != 1 && !journey) {
			t.Fatalf("%s gave %d events, %d areas", s, len(evs), len(b.Areas))
		}
		for _, e := range evs {
			if !e.Kind.Valid() || e.At == 0 || e.Person == (scoring.PersonKey{}) || e.ID == "" || e.Source == "" {
				t.Fatalf("malformed event %+v", e)
			}
			for _, s := range []string{e.ID, e.Source, e.Place, e.Country, e.Text} {
				if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.ContainsRune(s, utf8.RuneError) {
					t.Fatalf("accepted event carries a control character or broken UTF-8: %+v", e)
				}
			}
			switch e.Kind {
			case scoring.KindArrival:
				if e.End == 0 || e.End >= e.At || e.Place == "" || e.Country == "" {
					t.Fatalf("malformed arrival %+v", e)
				}
			case scoring.KindOverride:
				if e.End <= e.At || e.Text == "" {
					t.Fatalf("malformed override %+v", e)
				}
			case scoring.KindTest:
				if e.End < e.At || e.Sub == 0 || e.Result == 0 {
					t.Fatalf("malformed test %+v", e)
				}
			case scoring.KindCheckin, scoring.KindTravel:
				if (e.End != 0 && e.End < e.At) || e.Place == "" || (e.Kind == scoring.KindCheckin && e.Cell == 0) {
					t.Fatalf("malformed stay %+v", e)
				}
			case scoring.KindJourney:
				if _, err := e.Journey(); err != nil || e.End == 0 || len(e.Country) != 3 || e.Text == "" {
					t.Fatalf("malformed journey %+v: %v", e, err)
				}
			case scoring.KindVaccination:
				if e.Dose < 1 || e.Dose > 10 {
					t.Fatalf("malformed vaccination %+v", e)
				}
			}
		}
	})
}
