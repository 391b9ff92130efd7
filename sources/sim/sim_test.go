package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"healthcode/sources"
)

func digest(r runResult) [32]byte {
	h := sha256.New()
	for _, m := range r.msgs {
		fmt.Fprintf(h, "%d %d %q %q\n", m.stream, m.at.Unix(), m.key, m.value)
	}
	h.Write(r.truth)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func TestRun_Deterministic(t *testing.T) {
	cfg := Config{People: 3000, Days: 4, Seed: 7}
	a, b := collect(t, cfg), collect(t, cfg)
	if len(a.msgs) == 0 {
		t.Fatal("no messages")
	}
	if digest(a) != digest(b) {
		t.Fatalf("same seed, different output (%d vs %d messages)", len(a.msgs), len(b.msgs))
	}
	cfg.Seed = 8
	if c := collect(t, cfg); digest(c) == digest(a) {
		t.Fatal("different seeds, same output")
	}
}

// msg is the union of the contract's message fields the tests look at.
type msg struct {
	EventID    string      `json:"event_id"`
	Source     string      `json:"source"`
	OccurredAt string      `json:"occurred_at"`
	Person     *personJSON `json:"person"`
	LeftAt     string      `json:"left_at"`
	Until      string      `json:"until"`
	Venue      *struct {
		ID   string   `json:"id"`
		Name string   `json:"name"`
		Lat  *float64 `json:"lat"`
		Lng  *float64 `json:"lng"`
	} `json:"venue"`
	Region *struct{ Code, Country string } `json:"region"`
	Test   *struct {
		Kind, Result string
		ReportedAt   string `json:"reported_at"`
		Lab          string
	} `json:"test"`
	Vaccine *struct {
		Product string
		Dose    int
	} `json:"vaccine"`
	Symptoms     []string `json:"symptoms"`
	TemperatureC float64  `json:"temperature_c"`
	Area         *struct{ Kind, Code string }
	Level        string `json:"level"`
	Colour       string `json:"colour"`
	Reason       string `json:"reason"`
	Officer      string `json:"officer"`
	Approver     string `json:"approver"`
	Flight       *struct {
		Number, Date       string
		OriginAirport      string `json:"origin_airport"`
		OriginCountry      string `json:"origin_country"`
		DestinationAirport string `json:"destination_airport"`
		DepartedAt         string `json:"departed_at"`
		ArrivedAt          string `json:"arrived_at"`
	} `json:"flight"`
	Passengers []struct {
		Person *personJSON `json:"person"`
		Seat   string      `json:"seat"`
	} `json:"passengers"`
}

type personJSON struct {
	IDType      string `json:"id_type"`
	IDNumber    string `json:"id_number"`
	Nationality string `json:"nationality"`
}

func decode(t *testing.T, m kept) msg {
	t.Helper()
	var v msg
	dec := json.NewDecoder(bytes.NewReader(m.value))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s message does not decode: %v\n%s", m.stream, err, m.value)
	}
	return v
}

func parseTime(t *testing.T, field, s string) time.Time {
	t.Helper()
	if !strings.HasSuffix(s, "+08:00") {
		t.Fatalf("%s %q: want RFC 3339 in +08:00", field, s)
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%s: %v", field, err)
	}
	return tm
}

var (
	districtCodes = func() map[string]bool {
		m := map[string]bool{}
		for _, d := range districts {
			m[d.code] = true
		}
		return m
	}()
	seatRE    = regexp.MustCompile(`^([1-9][0-9]{0,2}[A-K]|CREW)$`)
	venueRE   = regexp.MustCompile(`^V33[0-9]{4}[0-9]{6}$`)
	regionRE  = regexp.MustCompile(`^[1-8][0-9]{5}$`)
	officerRE = regexp.MustCompile(`^officer-[0-9]{3}$`)
)

func checkPerson(t *testing.T, where string, p *personJSON) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no person", where)
	}
	switch p.IDType {
	case "resident_id":
		if !checkResidentID(p.IDNumber) {
			t.Fatalf("%s: resident id %q fails GB 11643", where, p.IDNumber)
		}
		if !districtCodes[p.IDNumber[:6]] {
			t.Fatalf("%s: resident id region %q not in the province", where, p.IDNumber[:6])
		}
		birth, err := time.Parse("20060102", p.IDNumber[6:14])
		if err != nil || birth.Year() < 1940 || birth.Year() > 2015 {
			t.Fatalf("%s: resident id birth date %q: %v", where, p.IDNumber[6:14], err)
		}
	case "passport", "hk_macau_permit", "taiwan_permit":
		if len(p.IDNumber) < 8 || len(p.Nationality) != 3 {
			t.Fatalf("%s: %s %q nationality %q", where, p.IDType, p.IDNumber, p.Nationality)
		}
	default:
		t.Fatalf("%s: id_type %q", where, p.IDType)
	}
}

// TestRun_MessagesFollowContract decodes every message and checks the fields
// docs/contract.md requires of its stream.
func TestRun_MessagesFollowContract(t *testing.T) {
	r := collect(t, Config{People: 4000, Days: 6, Seed: 3})
	ids := map[string]bool{}
	seen := map[sources.Stream]int{}
	idTypes := map[string]int{}
	for _, m := range r.msgs {
		v := decode(t, m)
		seen[m.stream]++
		where := fmt.Sprintf("%s %s", m.stream, v.EventID)
		if v.EventID == "" || v.Source == "" || ids[v.EventID] {
			t.Fatalf("%s: empty or duplicate event_id, or no source", where)
		}
		ids[v.EventID] = true
		parseTime(t, where+" occurred_at", v.OccurredAt)
		if m.stream == sources.StreamFlights || m.stream == sources.StreamAreaRisk {
			if v.Person != nil {
				t.Fatalf("%s: unexpected person", where)
			}
		} else {
			checkPerson(t, where, v.Person)
			idTypes[v.Person.IDType]++
		}
		if v.LeftAt != "" {
			parseTime(t, where+" left_at", v.LeftAt)
		}
		switch m.stream {
		case sources.StreamCheckins:
			if v.Venue == nil || !venueRE.MatchString(v.Venue.ID) || v.Venue.Lat == nil || v.Venue.Lng == nil {
				t.Fatalf("%s: venue %s", where, m.value)
			}
			if la, ln := *v.Venue.Lat, *v.Venue.Lng; !(la > 29.6 && la < 30.5 && ln > 119.9 && ln < 121.7) {
				t.Fatalf("%s: venue at %v,%v is not near Hangzhou or Ningbo", where, la, ln)
			}
		case sources.StreamTravel:
			if v.Region == nil || !regionRE.MatchString(v.Region.Code) || v.Region.Country != "CHN" {
				t.Fatalf("%s: region %s", where, m.value)
			}
		case sources.StreamTests:
			if v.Test == nil || (v.Test.Kind != "pcr" && v.Test.Kind != "antigen") || v.Test.Lab == "" {
				t.Fatalf("%s: test %s", where, m.value)
			}
			switch v.Test.Result {
			case "positive", "negative", "inconclusive":
			default:
				t.Fatalf("%s: result %q", where, v.Test.Result)
			}
			parseTime(t, where+" reported_at", v.Test.ReportedAt)
		case sources.StreamVaccinations:
			if v.Vaccine == nil || v.Vaccine.Product == "" || v.Vaccine.Dose < 1 || v.Vaccine.Dose > 3 {
				t.Fatalf("%s: vaccine %s", where, m.value)
			}
		case sources.StreamDeclarations:
			for _, s := range v.Symptoms {
				if !strings.Contains("fever cough fatigue loss_of_smell sore_throat", s) {
					t.Fatalf("%s: symptom %q", where, s)
				}
			}
			if v.TemperatureC != 0 && (v.TemperatureC < 35 || v.TemperatureC > 42) {
				t.Fatalf("%s: temperature %v", where, v.TemperatureC)
			}
		case sources.StreamAreaRisk:
			if v.Area == nil || (v.Level != "high" && v.Level != "medium" && v.Level != "low") {
				t.Fatalf("%s: %s", where, m.value)
			}
			ok := map[string]*regexp.Regexp{"country": regexp.MustCompile(`^[A-Z]{3}$`), "region": regionRE,
				"h3": regexp.MustCompile(`^8[0-9a-f]{14}$`)}[v.Area.Kind]
			if ok == nil || !ok.MatchString(v.Area.Code) || string(m.key) != v.Area.Kind+":"+v.Area.Code {
				t.Fatalf("%s: area %+v key %q", where, v.Area, m.key)
			}
		case sources.StreamOverrides:
			if v.Colour == "" || v.Reason == "" || !officerRE.MatchString(v.Officer) || !officerRE.MatchString(v.Approver) || v.Officer == v.Approver {
				t.Fatalf("%s: override %s", where, m.value)
			}
			parseTime(t, where+" until", v.Until)
		case sources.StreamFlights:
			f := v.Flight
			if f == nil || len(v.Passengers) == 0 || f.Number == "" || len(f.OriginAirport) != 3 || len(f.OriginCountry) != 3 || len(f.DestinationAirport) != 3 {
				t.Fatalf("%s: flight %s", where, m.value)
			}
			dep, arr := parseTime(t, "departed_at", f.DepartedAt), parseTime(t, "arrived_at", f.ArrivedAt)
			if !dep.Before(arr) || arr.Format(time.RFC3339) != v.OccurredAt || string(m.key) != f.Number+"/"+f.Date || dep.Format("2006-01-02") != f.Date {
				t.Fatalf("%s: flight times or key %q: %+v", where, m.key, f)
			}
			aboard := map[string]bool{}
			for _, p := range v.Passengers {
				checkPerson(t, where, p.Person)
				if !seatRE.MatchString(p.Seat) || (p.Seat != "CREW" && aboard[p.Seat]) {
					t.Fatalf("%s: seat %q", where, p.Seat)
				}
				aboard[p.Seat] = true
			}
		}
	}
	for _, st := range sources.Streams {
		if seen[st] == 0 || seen[st] != r.sum.Messages[st] {
			t.Errorf("stream %s: %d messages, summary says %d", st, seen[st], r.sum.Messages[st])
		}
	}
	if idTypes["resident_id"] == 0 || idTypes["passport"] == 0 {
		t.Errorf("document types seen: %v", idTypes)
	}
}

// TestRun_ValidatesAgainstSchemas checks every message against the contract's
// JSON Schemas shipped in package sources.
func TestRun_ValidatesAgainstSchemas(t *testing.T) {
	c := jsonschema.NewCompiler()
	schemas := map[sources.Stream]*jsonschema.Schema{}
	for st, b := range sources.Schemas() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("schema %s: %v", st, err)
		}
		url := "mem://" + st.String() + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("schema %s: %v", st, err)
		}
		if schemas[st], err = c.Compile(url); err != nil {
			t.Fatalf("schema %s: %v", st, err)
		}
	}
	r := collect(t, Config{People: 2000, Days: 3, Seed: 5})
	for _, m := range r.msgs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.value))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas[m.stream].Validate(doc); err != nil {
			t.Fatalf("%s message fails its schema: %v\n%s", m.stream, err, m.value)
		}
	}
}

// TestRun_Ordering checks the ordering guarantee documented on Run.
func TestRun_Ordering(t *testing.T) {
	cfg := Config{People: 4000, Days: 5, Seed: 11, Start: time.Date(2020, 4, 2, 13, 30, 0, 0, time.UTC)}
	r := collect(t, cfg)
	start, end := cfg.Start, cfg.Start.Add(5*24*time.Hour)
	var last time.Time
	late := 0
	for i, m := range r.msgs {
		v := decode(t, m)
		occ := parseTime(t, "occurred_at", v.OccurredAt)
		if i > 0 && m.at.Before(last) {
			t.Fatalf("message %d (%s) at %v before the previous one at %v", i, m.stream, m.at, last)
		}
		last = m.at
		if occ.Before(start) || !occ.Before(end) {
			t.Fatalf("%s occurred at %v, outside [%v, %v)", m.stream, occ, start, end)
		}
		if m.at.Before(occ) || m.at.Sub(occ) > MaxLateness {
			t.Fatalf("%s occurred at %v, published at %v", m.stream, occ, m.at)
		}
		want := occ
		switch {
		case m.stream == sources.StreamTests:
			want = parseTime(t, "reported_at", v.Test.ReportedAt)
		case (m.stream == sources.StreamCheckins || m.stream == sources.StreamTravel) && v.LeftAt != "":
			want = parseTime(t, "left_at", v.LeftAt)
		}
		if !m.at.Equal(want) {
			t.Fatalf("%s %s published at %v, want %v", m.stream, v.EventID, m.at, want)
		}
		if !m.at.Equal(occ) {
			late++
		}
	}
	if late == 0 {
		t.Fatal("no message published after it occurred")
	}
}

// TestRun_OutbreakTruth checks the ground truth against the messages: index
// cases at Start, every transmission from an infectious person co-present at
// a venue for 15 minutes, every positive PCR an infected person after onset.
func TestRun_OutbreakTruth(t *testing.T) {
	cfg := Config{People: 5000, Days: 7, Seed: 2, Transmission: 0.2, Cases: 4}
	r := collect(t, cfg)
	type stay struct {
		venue     string
		in, out   time.Time
		hasLeftAt bool
	}
	stays := map[string][]stay{}
	type pcr struct {
		at       time.Time
		positive bool
	}
	tests := map[string][]pcr{}
	for _, m := range r.msgs {
		if m.stream != sources.StreamCheckins && m.stream != sources.StreamTests {
			continue
		}
		v := decode(t, m)
		k := refKey(v.Person.IDType, v.Person.IDNumber)
		occ := parseTime(t, "occurred_at", v.OccurredAt)
		if m.stream == sources.StreamTests {
			if v.Test.Kind == "pcr" {
				tests[k] = append(tests[k], pcr{occ, v.Test.Result == "positive"})
			}
			continue
		}
		s := stay{venue: v.Venue.ID, in: occ}
		if v.LeftAt != "" {
			s.out, s.hasLeftAt = parseTime(t, "left_at", v.LeftAt), true
		}
		stays[k] = append(stays[k], s)
	}
	truth := map[string]Infection{}
	var lines []Infection
	dec := json.NewDecoder(bytes.NewReader(r.truth))
	for dec.More() {
		var in Infection
		if err := dec.Decode(&in); err != nil {
			t.Fatal(err)
		}
		if _, dup := truth[in.PersonKey]; dup {
			t.Fatalf("%s infected twice", in.PersonKey)
		}
		truth[in.PersonKey] = in
		lines = append(lines, in)
	}
	kinds := map[string]int{}
	for _, in := range lines {
		kinds[in.Kind]++
	}
	if len(lines) != r.sum.Infected || kinds["index"] != cfg.Cases || kinds["imported"] != r.sum.Imported {
		t.Fatalf("truth has %d lines %v; summary %+v", len(lines), kinds, r.sum)
	}
	if kinds["venue"] == 0 {
		t.Fatal("the outbreak infected nobody")
	}
	contact := 15 * time.Minute
	for _, in := range lines {
		if in.OnsetAt.Sub(in.InfectedAt) < 3*24*time.Hour || in.InfectiousFrom != in.OnsetAt.Add(-48*time.Hour) {
			t.Fatalf("%s: implausible course %+v", in.PersonKey, in)
		}
		switch in.Kind {
		case "index":
			if in.InfectedAt.Format(time.RFC3339) != "2020-03-01T00:00:00+08:00" { // the default Start
				t.Fatalf("index case infected at %v", in.InfectedAt)
			}
			continue
		case "imported":
			if !strings.HasPrefix(in.Place, "abroad:") {
				t.Fatalf("imported case place %q", in.Place)
			}
			continue
		}
		src, ok := truth[in.SourceKey]
		if !ok {
			t.Fatalf("%s infected by %s, who was never infected", in.PersonKey, in.SourceKey)
		}
		at := in.InfectedAt
		if at.Before(src.InfectiousFrom) || (!src.DetectedAt.IsZero() && !at.Before(src.DetectedAt)) {
			t.Fatalf("infector %s not infectious at %v: %+v", in.SourceKey, at, src)
		}
		if in.Generation != src.Generation+1 {
			t.Fatalf("generation %d from a generation %d infector", in.Generation, src.Generation)
		}
		// Both were at the venue at the infection time for 15 minutes; the
		// later of the two entries is the infection time.
		present := func(key string) (ok, enteredThen bool) {
			for _, s := range stays[key] {
				if s.venue == in.Place && !s.in.After(at) && (!s.hasLeftAt || !s.out.Before(at.Add(contact))) {
					ok = true
					enteredThen = enteredThen || s.in.Equal(at)
				}
			}
			return ok, enteredThen
		}
		ok1, then1 := present(in.PersonKey)
		ok2, then2 := present(in.SourceKey)
		if !ok1 || !ok2 || !(then1 || then2) {
			t.Fatalf("%s and %s not co-present at %s at %v", in.PersonKey, in.SourceKey, in.Place, at)
		}
	}
	positives := 0
	for k, ts := range tests {
		for _, x := range ts {
			if !x.positive {
				continue
			}
			positives++
			in, ok := truth[k]
			if !ok || x.at.Before(in.OnsetAt) {
				t.Fatalf("positive PCR at %v for %s, who is not infected or before onset (%+v)", x.at, k, in)
			}
			if in.DetectedAt.IsZero() {
				t.Fatalf("%s tested positive but has no detected_at", k)
			}
		}
	}
	if positives == 0 || r.sum.Detected == 0 {
		t.Fatalf("no positive PCR (%d detected)", r.sum.Detected)
	}
}

// TestRun_NoRawIDOutsideIDNumber: a document number appears only in
// person.id_number fields, never in keys, other fields or the truth.
func TestRun_NoRawIDOutsideIDNumber(t *testing.T) {
	r := collect(t, Config{People: 3000, Days: 4, Seed: 9})
	all := map[string]bool{}
	for _, m := range r.msgs {
		v := decode(t, m)
		var nums []string
		if v.Person != nil {
			nums = append(nums, v.Person.IDNumber)
		}
		for _, p := range v.Passengers {
			nums = append(nums, p.Person.IDNumber)
		}
		for _, n := range nums {
			all[n] = true
			if bytes.Contains(m.key, []byte(n)) {
				t.Fatalf("%s key %q holds id %q", m.stream, m.key, n)
			}
			field := []byte(`"id_number":"` + n + `"`)
			want := 0
			for _, x := range nums {
				if x == n {
					want++
				}
			}
			if got := bytes.Count(m.value, []byte(n)); got != want || bytes.Count(m.value, field) != want {
				t.Fatalf("%s: id %q appears %d times, in %d id_number fields\n%s", m.stream, n, got, want, m.value)
			}
		}
	}
	if len(all) < 1000 {
		t.Fatalf("only %d distinct people seen", len(all))
	}
	for n := range all {
		if bytes.Contains(r.truth, []byte(n)) {
			t.Fatalf("truth holds id %q", n)
		}
	}
}

func TestRun_StopsOnEmitErrorAndCancel(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	_, err := Run(context.Background(), Config{People: 2000, Days: 2}, func(Message) error {
		if n++; n == 100 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 100 {
		t.Fatalf("err %v after %d messages; want boom after 100", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	sum, err := Run(ctx, Config{People: 2000, Days: 2}, func(Message) error {
		if n++; n == 100 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n < 100 || n > 100_000 {
		t.Fatalf("err %v after %d messages (%+v); want canceled soon after 100", err, n, sum)
	}
}

func TestConfig_Defaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.People != 100_000 || c.Days != 7 || c.Seed != 1 || c.CheckinsPerDay != 2 || c.Cases != 5 ||
		c.Start.Format(time.RFC3339) != "2020-03-01T00:00:00+08:00" {
		t.Fatalf("defaults: %+v", c)
	}
	big := Config{People: 10_000_000}
	big.setDefaults()
	if big.Cases != 500 || big.Flights != 40 {
		t.Fatalf("defaults at 10M: %+v", big)
	}
}

func TestConfig_Validate(t *testing.T) {
	f := func(name string, c Config, want string) {
		t.Helper()
		c.setDefaults()
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, want)
		}
	}
	f("negative people", Config{People: -1}, "people")
	f("too many people", Config{People: MaxPeople + 1}, "people")
	f("more cases than people", Config{People: 10, Cases: 11}, "cases")
	f("transmission above 1", Config{Transmission: 1.5}, "transmission")
	f("negative check-ins", Config{CheckinsPerDay: -1}, "checkins")
	f("truth without key", Config{Truth: &bytes.Buffer{}}, "key")
	f("too many messages", Config{People: 50_000_000, CheckinsPerDay: 5, Days: 30}, "4e9")
	f("start before 2020", Config{Start: time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC)}, "start")
}
