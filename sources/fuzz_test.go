package sources

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

// FuzzDecode feeds arbitrary bytes to every stream: no panic, rejections
// append nothing, accepted output is well-formed.
func FuzzDecode(f *testing.F) {
	for i, s := range Streams {
		f.Add(uint8(i), Examples()[s])
	}
	f.Add(uint8(0), []byte(`{"passengers":[{},{}],"flight":{}}`))
	f.Add(uint8(5), []byte(`{"symptoms":["fever",null,"\u0066ever"],"temperature_c":1e999}`))
	f.Add(uint8(6), []byte(`{"event_id":"e","source":"s","occurred_at":"2020-03-12T00:00:00Z","area":{"kind":"h3","code":"8830e1c6b5fffff"},"level":"high"}`))
	d := newTestDecoder(f, Config{VenueCache: 64})
	f.Fuzz(func(t *testing.T, streamIdx uint8, data []byte) {
		s := Streams[int(streamIdx)%len(Streams)]
		b := Batch{Events: []scoring.Event{{ID: "before"}}}
		err := d.Decode(s, data, &b)
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) || re.Class < RejectMalformed || re.Class > RejectStream {
				t.Fatalf("error %v is not a classified *RejectError", err)
			}
			if len(b.Events) != 1 || len(b.Areas) != 0 {
				t.Fatal("a rejected message appended output")
			}
			return
		}
		if s == StreamAreaRisk {
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
		evs := b.Events[1:]
		if len(evs) == 0 || len(b.Areas) != 0 || (s != StreamFlights && len(evs) != 1) {
			t.Fatalf("%s gave %d events, %d areas", s, len(evs), len(b.Areas))
		}
		for _, e := range evs {
			if !e.Kind.Valid() || e.At == 0 || e.Person == (scoring.PersonKey{}) || e.ID == "" || e.Source == "" {
				t.Fatalf("malformed event %+v", e)
			}
			switch e.Kind {
			case scoring.KindArrival:
				if e.End == 0 || e.End > e.At || e.Place == "" || e.Country == "" {
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
			case scoring.KindVaccination:
				if e.Dose < 1 || e.Dose > 10 {
					t.Fatalf("malformed vaccination %+v", e)
				}
			}
		}
	})
}

// canonicalRFC3339 is the RFC 3339 form with a real offset (hours 00-23);
// time.Parse also takes offset hours of 24 and more (go.dev/issue/54580).
var canonicalRFC3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`)

// checkParse compares parseRFC3339 with time.Parse(time.RFC3339).
func checkParse(t *testing.T, s string) {
	got, st := parseRFC3339([]byte(s))
	want, err := time.Parse(time.RFC3339, s)
	if st == timeOK {
		if err != nil {
			t.Fatalf("%q: accepted, time.Parse refuses: %v", s, err)
		}
		if got != want.Unix() {
			t.Fatalf("%q: %d, time.Parse gives %d", s, got, want.Unix())
		}
		return
	}
	if err == nil && canonicalRFC3339.MatchString(s) {
		t.Fatalf("%q: refused (state %d), time.Parse accepts", s, st)
	}
}

func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2020-03-16T10:00:00+08:00", "2020-02-29T23:59:59.999999999Z", "2021-02-29T00:00:00Z",
		"2020-03-16T10:00:00", "2020-03-16T24:00:00Z", "2020-03-16T10:00:00+24:00", "0000-01-01T00:00:00-23:59"} {
		f.Add(s)
	}
	f.Fuzz(checkParse)
}

func TestParseRFC3339_AgreesWithTime(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 20000; i++ {
		at := time.Unix(scoring.Epoch+r.Int64N(int64(scoring.MaxTime)), r.Int64N(1e9))
		zone := time.FixedZone("", (r.IntN(48)-24)*1800)
		layout := time.RFC3339
		if i%3 == 0 {
			layout = time.RFC3339Nano
		}
		checkParse(t, at.In(zone).Format(layout))
	}
	for _, tc := range []struct {
		s  string
		st timeState
	}{
		{"2020-03-16T10:00:00", timeNoOffset},
		{"2020-03-16T10:00:00.5", timeNoOffset},
		{"2020-03-16t10:00:00Z", timeSyntax},
		{"2020-03-16T10:00:00z", timeSyntax},
		{"2020-03-16T10:00:00.Z", timeSyntax},
		{"2020-03-16T10:00:00+0800", timeSyntax},
		{"2020-03-16T10:00:60Z", timeSyntax},
		{"2020-02-30T10:00:00Z", timeSyntax},
		{"2020-03-16", timeSyntax},
	} {
		if _, st := parseRFC3339([]byte(tc.s)); st != tc.st {
			t.Errorf("%q: state %d, want %d", tc.s, st, tc.st)
		}
		checkParse(t, tc.s)
	}
}
