package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sources"
)

// world builds upstream messages by hand, feeds them to a contact tracer and
// names people by number: person n holds the generated passport ctID(n).
type world struct {
	t  *testing.T
	tr *contactTracer
	n  int
}

func newWorld(t *testing.T) *world { return newWorldWith(t, testPolicy(t)) }

// newWorldWith applies policy p's contact definitions.
func newWorldWith(t *testing.T, p *scoring.Policy) *world {
	return &world{t: t, tr: newContactTracer(testKey, p)}
}

func ctID(n int) string { return fmt.Sprintf("E%08d", 31_000_000+n) }

type spot struct {
	id       string
	lat, lng float64
}

func (w *world) send(st sources.Stream, v map[string]any) {
	w.t.Helper()
	w.n++
	v["event_id"], v["source"] = fmt.Sprintf("hand-%d", w.n), "test"
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.tr.observe(Message{Stream: st, Value: b}); err != nil {
		w.t.Fatalf("observe %s: %v", b, err)
	}
}

func ctPersonOf(n int) map[string]any {
	return map[string]any{"id_type": "passport", "id_number": ctID(n), "nationality": "DEU"}
}

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

// checkin: person n at v from in for stay (0: no left_at).
func (w *world) checkin(n int, v spot, in time.Time, stay time.Duration) {
	w.t.Helper()
	m := map[string]any{"occurred_at": rfc(in), "person": ctPersonOf(n),
		"venue": map[string]any{"id": v.id, "name": "Cafe", "lat": v.lat, "lng": v.lng}}
	if stay > 0 {
		m["left_at"] = rfc(in.Add(stay))
	}
	w.send(sources.StreamCheckins, m)
}

// travel: person n in region 330102, at loc if not nil, from in for stay (0:
// no left_at).
func (w *world) travel(n int, loc *spot, in time.Time, stay time.Duration) {
	w.t.Helper()
	m := map[string]any{"occurred_at": rfc(in), "person": ctPersonOf(n),
		"region": map[string]any{"code": "330102", "country": "CHN"}}
	if loc != nil {
		m["location"] = map[string]any{"lat": loc.lat, "lng": loc.lng}
	}
	if stay > 0 {
		m["left_at"] = rfc(in.Add(stay))
	}
	w.send(sources.StreamTravel, m)
}

func (w *world) test(n int, kind, result string, sampled, reported time.Time) {
	w.t.Helper()
	w.send(sources.StreamTests, map[string]any{"occurred_at": rfc(sampled), "person": ctPersonOf(n),
		"test": map[string]any{"kind": kind, "result": result, "reported_at": rfc(reported), "lab": "lab-330102-01"}})
}

// flight: seats maps person numbers to seats, listed in person order.
func (w *world) flight(number string, dep, arr time.Time, seats map[int]string) {
	w.t.Helper()
	var pax []any
	for n := range 100 {
		if s, ok := seats[n]; ok {
			pax = append(pax, map[string]any{"person": ctPersonOf(n), "seat": s})
		}
	}
	w.send(sources.StreamFlights, map[string]any{"occurred_at": rfc(arr), "passengers": pax,
		"flight": map[string]any{"number": number, "date": dep.Format("2006-01-02"), "origin_airport": "FRA",
			"origin_country": "DEU", "destination_airport": "HGH", "departed_at": rfc(dep), "arrived_at": rfc(arr)}})
}

// got returns the derived contacts as "exposed>source kind" by person number.
func (w *world) got() []string {
	w.t.Helper()
	num := map[string]int{}
	for n := range 100 {
		num[refKey("passport", ctID(n))] = n
	}
	var out []string
	for _, c := range w.tr.derive() {
		e, ok1 := num[c.Exposed]
		s, ok2 := num[c.Source]
		if !ok1 || !ok2 {
			w.t.Fatalf("unknown key in %+v", c)
		}
		out = append(out, fmt.Sprintf("%d>%d %s", e, s, c.Kind))
	}
	slices.Sort(out)
	return out
}

func TestContacts_Definitions(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	S := time.Date(2020, 3, 13, 10, 0, 0, 0, cst) // first positive sample
	R := S.Add(8 * time.Hour)                     // its reported_at
	W0 := S.Add(-48 * time.Hour)                  // the window opens
	a := S.Add(-24 * time.Hour)
	const sec, mn = time.Second, time.Minute
	// Venues about 5 km apart, each in a cell of its own.
	v := make([]spot, 7)
	for i := range v {
		v[i] = spot{fmt.Sprintf("V330102%06d", i+1), 30.1 + 0.05*float64(i), 120.1}
	}
	// Two venues in one resolution-8 cell.
	c8 := h3.LatLngToCell(h3.NewLatLng(30.4, 120.4), 8).LatLng()
	p := spot{"V330103000001", float64(int(c8.Lat*1e4)) / 1e4, float64(int(c8.Lng*1e4)) / 1e4}
	q := spot{"V330103000002", p.lat + 0.0003, p.lng}
	if tr := newWorld(t).tr; tr.companionCell(ctLatLng{p.lat, p.lng}) != tr.companionCell(ctLatLng{q.lat, q.lng}) {
		t.Fatal("test venues p and q are not in one cell")
	}
	case1 := func(w *world) { w.test(1, "pcr", "positive", S, R) }
	tests := []struct {
		name  string
		build func(w *world)
		want  []string
	}{
		{"venue: 15 minutes close, 14m59s companion by the cell, 9m59s nothing", func(w *world) {
			case1(w)
			w.checkin(1, v[1], a, 2*time.Hour)
			w.checkin(1, v[1], a.Add(10*mn), time.Hour) // never their own contact
			w.checkin(2, v[1], a.Add(30*mn), 15*mn)
			w.checkin(3, v[1], a.Add(30*mn), 15*mn-sec)
			w.checkin(4, v[1], a.Add(30*mn), 10*mn-sec)
		}, []string{"2>1 close_contact", "3>1 companion"}},
		{"check-in without left_at lasts an hour", func(w *world) {
			case1(w)
			w.checkin(1, v[1], a, 0)
			w.checkin(2, v[1], a.Add(45*mn), time.Hour)
			w.checkin(3, v[1], a.Add(45*mn+sec), time.Hour)
			// 3 stays on with 2 after 2's exposure (a+1h): secondary.
		}, []string{"2>1 close_contact", "3>1 companion", "3>2 secondary_contact"}},
		{"window start: the case's stay is clipped", func(w *world) {
			case1(w)
			w.checkin(1, v[1], W0.Add(-time.Hour), 90*mn)
			w.checkin(2, v[1], W0.Add(-time.Hour), time.Hour+15*mn)
			w.checkin(3, v[1], W0.Add(-time.Hour), time.Hour+15*mn-sec)
			w.checkin(4, v[1], W0.Add(-time.Hour), time.Hour-sec)
		}, []string{"2>1 close_contact", "3>1 companion"}},
		{"window end: reported_at included", func(w *world) {
			case1(w)
			w.checkin(1, v[1], R.Add(-30*mn), 2*time.Hour)
			w.checkin(2, v[1], R.Add(-15*mn), time.Hour)
			w.checkin(3, v[1], R.Add(-15*mn+sec), time.Hour)
			w.checkin(4, v[1], R.Add(sec), time.Hour)
		}, []string{"2>1 close_contact", "3>1 companion"}},
		{"first positive sample and its reported_at; other tests make no case", func(w *world) {
			w.test(1, "pcr", "negative", S.Add(-24*time.Hour), S.Add(-20*time.Hour))
			w.test(1, "pcr", "positive", S.Add(2*time.Hour), S.Add(6*time.Hour)) // reported first
			w.test(1, "pcr", "positive", S, S.Add(20*time.Hour))
			w.test(5, "antigen", "positive", S, S.Add(time.Hour))
			w.test(5, "pcr", "inconclusive", S, S.Add(time.Hour))
			w.checkin(1, v[1], S.Add(7*time.Hour), time.Hour)
			w.checkin(2, v[1], S.Add(7*time.Hour), time.Hour)
			w.checkin(1, v[2], S.Add(-47*time.Hour), time.Hour)
			w.checkin(3, v[2], S.Add(-47*time.Hour), time.Hour)
			w.checkin(1, v[3], S.Add(21*time.Hour), time.Hour)
			w.checkin(4, v[3], S.Add(21*time.Hour), time.Hour)
			w.checkin(5, v[4], S, time.Hour)
			w.checkin(6, v[4], S, time.Hour)
		}, []string{"2>1 close_contact", "3>1 close_contact"}},
		{"cells: venue and travel coordinates, 10 minutes", func(w *world) {
			case1(w)
			w.checkin(1, p, a, time.Hour)
			w.checkin(2, q, a.Add(50*mn), time.Hour)
			w.checkin(3, q, a.Add(50*mn+sec), time.Hour)
			w.travel(4, &q, a.Add(-2*time.Hour), 0) // 24 hours
			w.travel(5, &v[5], a, 0)
			w.travel(6, nil, a, 2*time.Hour) // a region only
			w.travel(1, &v[6], a.Add(3*time.Hour), 2*time.Hour)
			w.checkin(7, v[6], a.Add(4*time.Hour), 30*mn)
		}, []string{"2>1 companion", "4>1 companion", "7>1 companion"}},
		{"flight: passenger case, rows 3 vs 4, crew; no secondary contacts on the same leg", func(w *world) {
			// The close contacts were exposed at the arrival, when the leg
			// ends: their windows only touch it, so their neighbours on board
			// are not their secondary contacts.
			case1(w)
			w.flight("CA936", S.Add(-30*time.Hour), S.Add(-20*time.Hour), map[int]string{
				1: "10C", 2: "7A", 3: "13K", 4: "6B", 5: "14A", 6: "CREW", 7: "CREW", 8: "10A"})
		}, []string{
			"2>1 close_contact", "3>1 close_contact", "4>1 companion", "5>1 companion",
			"6>1 close_contact", "7>1 close_contact", "8>1 close_contact",
		}},
		{"flight: crew case", func(w *world) {
			case1(w)
			w.flight("MU552", S.Add(-30*time.Hour), S.Add(-20*time.Hour), map[int]string{
				1: "CREW", 2: "CREW", 3: "1A", 4: "30K"})
		}, []string{"2>1 close_contact", "3>1 companion", "4>1 companion"}},
		{"flight: a leg touching the window counts, one before it does not", func(w *world) {
			case1(w)
			w.flight("LH9720", W0.Add(-10*time.Hour), W0.Add(-sec), map[int]string{1: "10C", 2: "10D"})
			w.flight("LH9721", W0.Add(-10*time.Hour), W0, map[int]string{1: "10C", 3: "10D"})
		}, []string{"3>1 close_contact"}},
		{"secondary: from the close exposure to the case's report, close definitions", func(w *world) {
			case1(w)
			w.checkin(1, v[1], a, 2*time.Hour)
			w.checkin(2, v[1], a, 30*mn) // close, exposed at a+30m
			w.checkin(2, v[2], a.Add(4*time.Hour), time.Hour)
			w.checkin(3, v[2], a.Add(4*time.Hour+45*mn), time.Hour)     // 15 minutes
			w.checkin(4, v[2], a.Add(4*time.Hour+45*mn+sec), time.Hour) // 14m59s
			w.checkin(1, v[3], a.Add(3*time.Hour), 30*mn)               // the case is nobody's secondary contact
			w.checkin(2, v[3], a.Add(3*time.Hour), 30*mn)
			w.checkin(2, v[2], a.Add(-3*time.Hour), time.Hour) // before the exposure
			w.checkin(5, v[2], a.Add(-3*time.Hour), time.Hour)
			w.checkin(2, v[5], a.Add(20*mn), 25*mn) // clipped at the exposure
			w.checkin(7, v[5], a.Add(20*mn), 25*mn)
			w.checkin(8, v[5], a.Add(20*mn), 25*mn-sec)
			w.checkin(2, v[4], R.Add(time.Hour), time.Hour) // after the report
			w.checkin(6, v[4], R.Add(time.Hour), time.Hour)
		}, []string{"2>1 close_contact", "3>2 secondary_contact", "7>2 secondary_contact"}},
		{"a pair both close and secondary is close", func(w *world) {
			case1(w)
			w.test(2, "pcr", "positive", S.Add(time.Hour), R.Add(time.Hour))
			w.checkin(1, v[1], a, time.Hour)
			w.checkin(2, v[1], a, time.Hour)
			w.checkin(2, v[2], a.Add(2*time.Hour), time.Hour)
			w.checkin(3, v[2], a.Add(2*time.Hour), time.Hour)
		}, []string{"1>2 close_contact", "2>1 close_contact", "3>2 close_contact"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.build(w)
			got := w.got()
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// The truth reads its definitions from the policy: with close contacts
// narrowed to 1 row and 30 minutes, the shipped policy's close contacts two
// rows away or 20 minutes long become companions.
func TestContacts_FollowPolicy(t *testing.T) {
	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	c := m["contacts"].(map[string]any)
	c["close_rows"], c["close_overlap"] = 1, "30m"
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := scoring.ParsePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("CST", 8*3600)
	S := time.Date(2020, 3, 13, 10, 0, 0, 0, cst)
	build := func(w *world) {
		w.test(1, "pcr", "positive", S, S.Add(8*time.Hour))
		w.flight("CA936", S.Add(-30*time.Hour), S.Add(-20*time.Hour), map[int]string{1: "10C", 2: "8A", 3: "11K"})
		v := spot{"V330102000001", 30.1, 120.1}
		w.checkin(1, v, S.Add(-5*time.Hour), time.Hour)
		w.checkin(4, v, S.Add(-5*time.Hour), 20*time.Minute)
	}
	for _, tc := range []struct {
		name string
		p    *scoring.Policy
		want []string
	}{
		{"shipped", testPolicy(t), []string{"2>1 close_contact", "3>1 close_contact", "4>1 close_contact"}},
		{"narrow", narrow, []string{"2>1 companion", "3>1 close_contact", "4>1 companion"}},
	} {
		w := newWorldWith(t, tc.p)
		build(w)
		if got := w.got(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestContacts_SeatRow(t *testing.T) {
	f := func(seat string, want int16, ok bool) {
		t.Helper()
		got, err := seatRowOf(seat)
		if (err == nil) != ok || got != want {
			t.Errorf("seatRowOf(%q) = %d, %v; want %d, ok %v", seat, got, err, want, ok)
		}
	}
	f("23C", 23, true)
	f("1A", 1, true)
	f("40K", 40, true)
	f("CREW", ctCrew, true)
	f("0A", 0, false)
	f("23", 0, false)
	f("C", 0, false)
	f("23L", 0, false)
	f("crew", 0, false)
}

// runContacts runs the simulator with the contact truth and keeps the
// messages.
func runContacts(t *testing.T, cfg Config) (runResult, []byte) {
	t.Helper()
	var buf bytes.Buffer
	cfg.Contacts = &buf
	return collect(t, cfg), buf.Bytes()
}

func TestRun_Contacts(t *testing.T) {
	cfg := Config{People: 3000, Days: 5, Seed: 1}
	start := time.Now()
	r, raw := runContacts(t, cfg)
	elapsed := time.Since(start)
	_, again := runContacts(t, cfg)
	if !bytes.Equal(raw, again) {
		t.Fatal("same config, different contacts")
	}
	if plain := collect(t, cfg); digest(plain) != digest(r) {
		t.Fatal("asking for the contacts changed the messages or the truth")
	}
	cs, err := ReadContacts(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}

	// Everyone the messages name, and who had a positive PCR.
	known := map[string]bool{}
	positive := map[string]bool{}
	var idNumbers []string
	for _, m := range r.msgs {
		v := decode(t, m)
		people := []*personJSON{v.Person}
		for _, p := range v.Passengers {
			people = append(people, p.Person)
		}
		for _, p := range people {
			if p == nil {
				continue
			}
			k := refKey(p.IDType, p.IDNumber)
			if !known[k] {
				idNumbers = append(idNumbers, p.IDNumber)
			}
			known[k] = true
			if v.Test != nil && v.Test.Kind == "pcr" && v.Test.Result == "positive" {
				positive[k] = true
			}
		}
	}
	for _, n := range idNumbers {
		if bytes.Contains(raw, []byte(n)) {
			t.Fatalf("contacts hold id number %q", n)
		}
	}

	count := map[string]int{}
	closeExposed := map[string]bool{}
	for i, c := range cs {
		count[c.Kind]++
		if !known[c.Exposed] || !known[c.Source] {
			t.Fatalf("contact %+v names someone no message names", c)
		}
		if i > 0 {
			p := cs[i-1]
			if p.Exposed > c.Exposed || (p.Exposed == c.Exposed && p.Source >= c.Source) {
				t.Fatalf("contacts %d and %d out of order or repeated: %+v, %+v", i-1, i, p, c)
			}
		}
		if c.Kind == ContactClose {
			closeExposed[c.Exposed] = true
		}
		if c.Kind != ContactSecondary && !positive[c.Source] {
			t.Fatalf("%s of %s, who has no positive PCR", c.Kind, c.Source)
		}
	}
	for _, c := range cs {
		if c.Kind == ContactSecondary && !closeExposed[c.Source] {
			t.Fatalf("secondary contact of %s, who is nobody's close contact", c.Source)
		}
	}
	for _, k := range contactKinds {
		if count[k] == 0 {
			t.Fatalf("no %s among %d contacts: %v", k, len(cs), count)
		}
	}
	t.Logf("%d people, %d days: %v in %v (%d cases)", cfg.People, cfg.Days, count, elapsed, len(positive))
}

func TestRun_ContactsNeedKey(t *testing.T) {
	_, err := Run(context.Background(), Config{People: 10, Days: 1, Contacts: &bytes.Buffer{}}, func(Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("contacts without a key: %v", err)
	}
}

func TestReadContacts(t *testing.T) {
	k1, k2 := refKey("passport", ctID(1)), refKey("passport", ctID(2))
	line := func(e, s, kind string) string {
		return fmt.Sprintf(`{"exposed_key":%q,"source_key":%q,"kind":%q}`+"\n", e, s, kind)
	}
	good := line(k1, k2, ContactClose) + line(k2, k1, ContactSecondary)
	cs, err := ReadContacts(strings.NewReader(good))
	want := []Contact{{k1, k2, ContactClose}, {k2, k1, ContactSecondary}}
	if err != nil || !slices.Equal(cs, want) {
		t.Fatalf("got %+v, %v; want %+v", cs, err, want)
	}
	if cs, err := ReadContacts(strings.NewReader("")); err != nil || len(cs) != 0 {
		t.Fatalf("empty: %+v, %v", cs, err)
	}
	bad := func(name, in, wantErr string) {
		t.Helper()
		if _, err := ReadContacts(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, wantErr)
		}
	}
	bad("kind", line(k1, k2, "contact"), "kind")
	bad("short key", line(k1[:30], k2, ContactClose), "person key")
	bad("upper-case key", line(strings.ToUpper(k1), k2, ContactClose), "person key")
	bad("self", line(k1, k1, ContactCompanion), "themselves")
	bad("second line", good+"{", "contact 3")
	bad("not an object", "[1]", "contact 1")
}

func FuzzReadContacts(f *testing.F) {
	k1, k2 := refKey("passport", ctID(1)), refKey("passport", ctID(2))
	f.Add([]byte(fmt.Sprintf(`{"exposed_key":%q,"source_key":%q,"kind":"companion"}`, k1, k2)))
	f.Add([]byte(`{"exposed_key":"","kind":"close_contact"}` + "\n{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, err := ReadContacts(bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, c := range cs {
			if err := enc.Encode(c); err != nil {
				t.Fatal(err)
			}
		}
		again, err := ReadContacts(&buf)
		if err != nil || !slices.Equal(again, cs) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, cs)
		}
	})
}
