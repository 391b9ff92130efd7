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
// newest. Facts keep only three negatives, so NegQ is exact in any arrival
// order as long as no apart-window holds four negatives, and never later than
// exact (a rule clears late, never early) when one does.
func TestAddNegative_Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const apart = 1440
	for range 50000 {
		set := map[Time]bool{}
		for n := 1 + rng.IntN(7); len(set) < n; {
			set[Time(1+rng.IntN(5*apart))] = true
		}
		var ts []Time
		for k := range set {
			ts = append(ts, k)
		}
		slices.Sort(ts)
		sparse := true
		for i := 0; i+3 < len(ts); i++ {
			sparse = sparse && ts[i+3]-ts[i] >= apart
		}
		newest := ts[len(ts)-1]
		var exact Time
		for _, x := range ts {
			if x+apart <= newest {
				exact = x
			}
		}
		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		var f Facts
		for _, x := range ts {
			addNegative(&f, x, apart)
		}
		if f.Neg[0] != newest || (sparse && f.NegQ != exact) || f.NegQ > exact {
			t.Fatalf("negatives %v (sparse %v): Neg %v NegQ %d, want newest %d NegQ %d", ts, sparse, f.Neg, f.NegQ, newest, exact)
		}
		// Applying any of them again changes nothing (when dense, a copy of a
		// dropped negative may only bring NegQ closer to exact).
		before := f
		for _, x := range ts {
			changed := addNegative(&f, x, apart)
			if sparse && (changed || f != before) {
				t.Fatalf("negatives %v: a copy of %d changed the facts", ts, x)
			}
			if changed != (f != before) || f.Neg != before.Neg || f.NegQ < before.NegQ || f.NegQ > exact {
				t.Fatalf("negatives %v: a copy of %d: changed %v, %+v -> %+v", ts, x, changed, before.Neg, f.Neg)
			}
			before = f
		}
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
			ev := Event{Person: k, Kind: KindExposure, Sub: uint8(ExposureCompanion), At: Time(1000 + round),
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
		idx, ok := e.index.get(&k, e.keys)
		if !ok {
			t.Fatalf("person %d not indexed", i)
		}
		f := &e.facts[idx]
		if got, want := e.strs.Get(f.Ref[FactCompanion]), fmt.Sprintf("c-%d-199-%s", i, pad); got != want {
			t.Errorf("person %d: evidence %q, want %q", i, got, want)
		}
	}
}

// TestPersonIndex finds every key put, misses absent ones, and survives
// growth, with adversarial keys that share their first bytes.
func TestPersonIndex(t *testing.T) {
	ix := newPersonIndex(0)
	var keys []PersonKey
	for i := range 5000 {
		var k PersonKey
		k[15] = byte(i)
		k[14] = byte(i >> 8)
		keys = append(keys, k)
		ix.put(&keys[i], uint32(i), keys)
	}
	for i := range keys {
		if idx, ok := ix.get(&keys[i], keys); !ok || idx != uint32(i) {
			t.Fatalf("key %d: got %d %v", i, idx, ok)
		}
	}
	missing := PersonKey{1}
	if _, ok := ix.get(&missing, keys); ok {
		t.Error("found a key never put")
	}
	if 2*ix.n > len(ix.slots) {
		t.Errorf("%d keys in %d slots: more than half full", ix.n, len(ix.slots))
	}
}
