package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestCheckResidentID(t *testing.T) {
	f := func(id string, want bool) {
		t.Helper()
		if got := checkResidentID(id); got != want {
			t.Errorf("checkResidentID(%q) = %v, want %v", id, got, want)
		}
		if len(id) == 18 && want {
			if c := residentCheck([]byte(id)); c != id[17] {
				t.Errorf("residentCheck(%q) = %c", id[:17], c)
			}
		}
	}
	f("11010519491231002X", true) // the standard's worked example
	f("110105194912310029", false)
	f("440524188001010014", true)
	f("440524188001010015", false)
	f("4405241880010100", false)
	f("44052418800101001A", false)
}

func TestIdentity_UniqueAndValid(t *testing.T) {
	for _, seed := range []uint64{1, 2, 99} {
		id := newIdentity(seed)
		seen := map[string]int32{}
		kinds := map[uint8]int{}
		for p := int32(0); p < 50_000; p++ {
			k := id.docKind(p)
			kinds[k]++
			n := string(id.appendIDNumber(nil, p, k))
			if k == docResident && !checkResidentID(n) {
				t.Fatalf("seed %d person %d: invalid resident id %q", seed, p, n)
			}
			key := idTypeNames[k] + ":" + n
			if q, dup := seen[key]; dup {
				t.Fatalf("seed %d: persons %d and %d share %s", seed, q, p, key)
			}
			seen[key] = p
		}
		if kinds[docPassport] < 300 || kinds[docPassport] > 700 || kinds[docResident] < 49000 {
			t.Fatalf("seed %d: document mix %v", seed, kinds)
		}
	}
}

func TestFormat_TimeAndDate(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		u := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + r.Int64N(200*365*86400)
		tm := time.Unix(u, 0).In(cst)
		if got, want := string(appendTime(nil, u)), tm.Format(time.RFC3339); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", u, got, want)
		}
		if got, want := string(appendDate(nil, u)), tm.Format("2006-01-02"); got != want {
			t.Fatalf("appendDate(%d) = %s, want %s", u, got, want)
		}
		days := u / 86400
		y, m, d := civilFromDays(days)
		if daysFromCivil(y, m, d) != days {
			t.Fatalf("civil round trip of day %d", days)
		}
	}
}

func TestFormat_Fixed(t *testing.T) {
	f := func(v int64, digits int, want string) {
		t.Helper()
		if got := string(appendFixed(nil, v, digits)); got != want {
			t.Errorf("appendFixed(%d, %d) = %s, want %s", v, digits, got, want)
		}
	}
	f(302741, 4, "30.2741")
	f(1201551, 4, "120.1551")
	f(300005, 4, "30.0005")
	f(379, 1, "37.9")
	f(-1225, 2, "-12.25")
	f(5, 4, "0.0005")
}
