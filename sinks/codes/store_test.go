package codes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"healthcode/scoring"
	"healthcode/sinks"
)

func testKey(i int) scoring.PersonKey {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	var k scoring.PersonKey
	for j := range k {
		k[j] = byte(r.Uint32())
	}
	return k
}

func update(k scoring.PersonKey, version uint64, colour string, rules ...string) []byte {
	u := sinks.ColourUpdate{PersonKey: k.String(), Colour: colour, Level: map[string]int{"green": 0, "yellow": 1, "red": 2}[colour],
		Version: version, Policy: "domestic@1", EffectiveAt: "2020-03-16T10:00:00+08:00", Reasons: []sinks.Reason{}}
	for _, r := range rules {
		u.Reasons = append(u.Reasons, sinks.Reason{Rule: r, TextEN: "because " + r, TextZH: "因为 " + r,
			Evidence: []string{"ev-" + r}, Until: "2020-03-30T10:00:00+08:00", ClearsWhen: "14 days pass"})
		u.ReviewAt = "2020-03-30T10:00:00+08:00"
	}
	b, _ := json.Marshal(u)
	return b
}

func TestStore_LatestVersionWinsInAnyOrder(t *testing.T) {
	k := testKey(1)
	msgs := [][]byte{update(k, 1, "green"), update(k, 2, "red", "close-contact"), update(k, 3, "yellow", "area-medium", "arrival"),
		update(k, 2, "red", "close-contact")}
	for seed := uint64(0); seed < 20; seed++ {
		s := NewStore(0)
		perm := rand.New(rand.NewPCG(seed, 1)).Perm(len(msgs))
		for _, i := range perm {
			if _, err := s.ApplyJSON(msgs[i]); err != nil {
				t.Fatal(err)
			}
		}
		c := s.Get(k)
		if !c.Known || c.Version != 3 || c.Colour != "yellow" || c.Level != 1 || c.Policy != "domestic@1" ||
			len(c.Rules) != 2 || c.Rules[0] != "area-medium" || c.Rules[1] != "arrival" || s.Len() != 1 {
			t.Fatalf("order %v: %+v", perm, c)
		}
		var rs []sinks.Reason
		if err := json.Unmarshal(c.Reasons, &rs); err != nil || len(rs) != 2 || rs[1].TextZH != "因为 arrival" {
			t.Fatalf("reasons %s: %v", c.Reasons, err)
		}
		var orig sinks.ColourUpdate
		json.Unmarshal(msgs[2], &orig)
		if want, _ := json.Marshal(orig.Reasons); string(c.Reasons) != string(want) {
			t.Fatalf("reasons\n%s\nnot as on the topic:\n%s", c.Reasons, want)
		}
		if c.Effective.Format("2006-01-02T15:04:05-07:00") != "2020-03-16T10:00:00+08:00" || c.Review.IsZero() {
			t.Fatalf("times %v %v", c.Effective, c.Review)
		}
	}
	if c := NewStore(0).Get(k); c.Known || string(c.Reasons) != "[]" {
		t.Errorf("unknown person: %+v", c)
	}
}

func TestStore_RefusesBadUpdates(t *testing.T) {
	s := NewStore(0)
	for _, b := range []string{`{`, `{"person_key":"zz","colour":"red","version":1,"policy":"p","effective_at":"2020-03-16T10:00:00+08:00"}`,
		`{"person_key":"00112233445566778899aabbccddeeff","colour":"red","version":0,"policy":"p","effective_at":"2020-03-16T10:00:00+08:00"}`,
		`{"person_key":"00112233445566778899aabbccddeeff","colour":"red","version":1,"policy":"p","effective_at":"yesterday"}`,
		`{"person_key":"00112233445566778899aabbccddeeff","colour":"red","version":1,"policy":"p","effective_at":"2020-03-16T10:00:00+08:00","reasons":{}}`} {
		if _, err := s.ApplyJSON([]byte(b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	if s.Len() != 0 {
		t.Errorf("%d persons after bad updates", s.Len())
	}
}

func TestStore_CompactsReasons(t *testing.T) {
	s := NewStore(0)
	const n = 2000
	for v := uint64(1); v <= 30; v++ {
		for i := 0; i < n; i++ {
			s.ApplyJSON(update(testKey(i), v, "red", fmt.Sprintf("rule-%d", v)))
		}
	}
	for i := 0; i < n; i++ {
		if c := s.Get(testKey(i)); c.Version != 30 || c.Rules[0] != "rule-30" {
			t.Fatalf("person %d after compactions: %+v", i, c)
		}
	}
	if b := s.Bytes(); b > 30*n*200/4 {
		t.Errorf("store holds %d bytes for %d persons: garbage reasons are not compacted", b, n)
	}
}

// TestStore_BytesPerPerson measures the colour part with green persons
// (the bulk of a province): goal at most 64 bytes each.
func TestStore_BytesPerPerson(t *testing.T) {
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewStore(n)
	for i := 0; i < n; i++ {
		if _, err := s.ApplyJSON(update(testKey(i), 1, "green")); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d persons: %.1f B/person on the heap, %.1f B/person by capacity", n, heap, float64(s.Bytes())/n)
	if heap > 64 {
		t.Errorf("%.1f bytes per person held, goal 64", heap)
	}
	runtime.KeepAlive(s)
}

func TestStore_CertificateFacts(t *testing.T) {
	k := testKey(3)
	evs := []scoring.Event{
		{Person: k, Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultNegative, At: scoring.MustTime("2020-03-10T08:00:00Z"), ID: "t1"},
		{Person: k, Kind: scoring.KindTest, Sub: uint8(scoring.TestIgG), Result: scoring.ResultPositive, At: scoring.MustTime("2020-03-11T08:00:00Z"), ID: "t2"},
		{Person: k, Kind: scoring.KindVaccination, Dose: 1, Text: "CoronaVac", At: scoring.MustTime("2020-02-01T20:00:00Z"), ID: "v1"},
		{Person: k, Kind: scoring.KindCheckin, At: scoring.MustTime("2020-03-11T08:00:00Z"), ID: "c1"},
		{Person: k, Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultNegative, At: scoring.MustTime("2020-03-10T08:00:00Z"), ID: "t1"},
	}
	var want string
	for seed := uint64(0); seed < 10; seed++ {
		s := NewStore(0)
		for _, i := range rand.New(rand.NewPCG(seed, 3)).Perm(len(evs)) {
			s.ApplyEvent(&evs[i])
		}
		b, _ := json.Marshal(s.Certificate(k, sinks.DefaultZone()))
		if seed == 0 {
			want = string(b)
		} else if string(b) != want {
			t.Fatalf("certificate depends on arrival order:\n%s\n%s", b, want)
		}
	}
	const exp = `{"tests":[{"kind":"pcr","result":"negative","sampled_at":1583827200},{"kind":"igg","result":"positive","sampled_at":1583913600}],"vaccinations":[{"product":"CoronaVac","dose":1,"date":"2020-02-02"}]}`
	if want != exp {
		t.Errorf("certificate\n%s\nwant\n%s", want, exp)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
