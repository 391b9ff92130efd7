package scoring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// NegQ is what "two negative PCRs sampled after A, at least apart apart" is
// judged by: the exact value is the latest negative at least apart before the
// newest. It is exact in any arrival order for any number of negatives,
// however densely they fall inside one apart-window, and a copy of any of them
// changes nothing.
func TestAddNegative_Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const apart = 1440
	e := &Engine{cold: map[uint32]*cold{}}
	for round := range 50000 {
		set := map[Time]bool{}
		for n := 1 + rng.IntN(12); len(set) < n; {
			set[Time(1+rng.IntN(4*apart))] = true
		}
		var ts []Time
		for k := range set {
			ts = append(ts, k)
		}
		slices.Sort(ts)
		newest := ts[len(ts)-1]
		var exact Time
		var window []Time
		for _, x := range ts {
			if x+apart <= newest {
				exact = x
			} else {
				window = append(window, x)
			}
		}
		slices.Reverse(window)
		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		idx := uint32(round)
		var f Facts
		for _, x := range ts {
			e.addNegative(idx, &f, x, apart)
		}
		held := append([]Time{}, f.Neg[:]...)
		if c := e.cold[idx]; c != nil {
			held = append(held, c.negs...)
		}
		held = slices.DeleteFunc(held, func(x Time) bool { return x == 0 })
		if f.Neg[0] != newest || f.NegQ != exact || !slices.Equal(held, window) {
			t.Fatalf("negatives %v: Neg %v held %v NegQ %d, want newest %d NegQ %d window %v", ts, f.Neg, held, f.NegQ, newest, exact, window)
		}
		before := f
		for _, x := range ts {
			if e.addNegative(idx, &f, x, apart) || f != before {
				t.Fatalf("negatives %v: a copy of %d changed the facts", ts, x)
			}
		}
		delete(e.cold, idx)
	}
}

// The arena is compacted once it passes CompactAt and stays bounded by the
// live strings, with every reference still resolving to its string.
func TestArena_CompactionBounded(t *testing.T) {
	p := &Policy{Name: "p", Version: 1, Colours: []string{"green", "yellow"}, Rules: []Rule{{
		ID: "companion", Colour: "yellow", Fact: FactCompanion, For: Duration(14 * 24 * time.Hour), Clear: ClearTime,
		TextEN: "companion", TextZH: "时空伴随",
	}}}
	if err := p.setDefaultsAndValidate(); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(p, EngineOptions{CompactAt: 2 << 10})
	pad := strings.Repeat("p", 30)
	var maxSize int
	for round := range 200 {
		for i := range 20 {
			k := PersonKey{byte(i + 1)}
			// A new exposure every 40 days: the older ones settle (exposures.go).
			ev := Event{Person: k, Kind: KindExposure, Sub: uint8(ExposureCompanion), At: Time(1000 + round*40*86400),
				ID: fmt.Sprintf("c-%d-%d-%s", i, round, pad)}
			if _, err := e.Apply(&ev, ev.At, nil); err != nil {
				t.Fatal(err)
			}
			maxSize = max(maxSize, e.strs.Size())
		}
	}
	live := 20 * (1 + len("c-19-199-") + len(pad))
	if maxSize > 2*(2<<10)+live {
		t.Errorf("arena grew to %d bytes for %d live", maxSize, live)
	}
	for i := range 20 {
		k := PersonKey{byte(i + 1)}
		idx, ok := e.index.get(&k, e.facts)
		if !ok {
			t.Fatalf("person %d not indexed", i)
		}
		ps := e.person(idx)
		if got, want := e.strs.Get(e.storedAnchor(&ps, FactCompanion).ref), fmt.Sprintf("c-%d-199-%s", i, pad); got != want {
			t.Errorf("person %d: evidence %q, want %q", i, got, want)
		}
	}
}

// TestPersonIndex finds every key put, misses absent ones, and survives
// growth, with adversarial keys that share their first bytes.
func TestPersonIndex(t *testing.T) {
	ix := newPersonIndex(0)
	var facts []Facts
	for i := range 5000 {
		var k PersonKey
		k[15] = byte(i)
		k[14] = byte(i >> 8)
		facts = append(facts, Facts{Person: k})
		ix.put(&facts[i].Person, uint32(i), facts)
	}
	for i := range facts {
		if idx, ok := ix.get(&facts[i].Person, facts); !ok || idx != uint32(i) {
			t.Fatalf("key %d: got %d %v", i, idx, ok)
		}
	}
	missing := PersonKey{1}
	if _, ok := ix.get(&missing, facts); ok {
		t.Error("found a key never put")
	}
	if slots := len(ix.buckets) * bucketSlots; ix.n*maxLoadDen > slots*maxLoadNum {
		t.Errorf("%d keys in %d slots: more than %d/%d full", ix.n, slots, maxLoadNum, maxLoadDen)
	}
}
