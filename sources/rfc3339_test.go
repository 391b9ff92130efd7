package sources

import (
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"healthcode/scoring"
)

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
