package tracing

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"healthcode/scoring"
)

// TestPersonTable_MatchesMap interns, uses and releases random people in a
// random order, some more than 255 times, through growth and backward-shift
// deletions, and compares the table with a map after every step of a sample.
func TestPersonTable_MatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	key := func(i int) scoring.PersonKey {
		var k scoring.PersonKey
		binary.LittleEndian.PutUint64(k[:], rng.Uint64()^uint64(i))
		binary.LittleEndian.PutUint64(k[8:], uint64(i)*0x9e3779b97f4a7c15)
		return k
	}
	for _, presize := range []int{0, 50_000} {
		var tab personTable
		if presize > 0 {
			tab.init(presize)
		}
		keys := make([]scoring.PersonKey, 30_000)
		for i := range keys {
			keys[i] = key(i)
		}
		uses := map[scoring.PersonKey]int{}
		index := map[scoring.PersonKey]uint32{}
		check := func(step int) {
			if tab.live != len(uses) {
				t.Fatalf("step %d: live %d, want %d", step, tab.live, len(uses))
			}
			for k, n := range uses {
				x, ok := tab.lookup(k)
				if !ok || x != index[k] || *tab.key(x) != k {
					t.Fatalf("step %d: lookup %x: %d %v, want %d", step, k[:4], x, ok, index[k])
				}
				got := int(*tab.refs(x)) + int(tab.more[x])
				if got != n {
					t.Fatalf("step %d: %d uses, want %d", step, got, n)
				}
			}
		}
		for step := range 400_000 {
			k, release := keys[rng.IntN(len(keys))], rng.IntN(2) == 0
			if rng.IntN(10) == 0 { // a few people with a thousand uses
				k, release = keys[rng.IntN(20)], rng.IntN(4) == 0
			}
			if uses[k] > 0 && release {
				tab.release(index[k])
				if uses[k]--; uses[k] == 0 {
					delete(uses, k)
					delete(index, k)
					if _, ok := tab.lookup(k); ok {
						t.Fatalf("step %d: released key still found", step)
					}
				}
			} else {
				x := tab.intern(k)
				if old, ok := index[k]; ok && old != x {
					t.Fatalf("step %d: index %d, was %d", step, x, old)
				}
				index[k] = x
				uses[k]++
			}
			if step%50_000 == 0 {
				check(step)
			}
		}
		check(-1)
		for k, n := range uses {
			for range n {
				tab.release(index[k])
			}
		}
		if tab.live != 0 || len(tab.more) != 0 {
			t.Fatalf("after releasing everything: live %d, %d counted beyond 255", tab.live, len(tab.more))
		}
		for _, s := range tab.slots {
			if s != 0 {
				t.Fatal("after releasing everything: a slot is not empty")
			}
		}
	}
}
