package tracing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"healthcode/scoring"
)

// TestSegment_PackRoundTrip packs records whose fields span every width from
// 0 to 32 bits (one location and one prefix per run up to full 32-bit
// person indices, times near MaxTime, a stay of 2^32-1 seconds, ids kept whole
// in the arena) and reads each back: fields, event id, the (person, start)
// order of byPerson, the person filter, and a filtered copy.
func TestSegment_PackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round, n := range []int{1, 2, 300, 5000, segCap} {
		// Locations 0..7: class by location, two kinds, both streams.
		locClass := []uint8{2, 2, 3, 4, 4, 5, 8, 8}
		locs := &locTable{place: make([]uint32, len(locClass)), class: locClass}
		for i := range locs.place {
			locs.place[i] = uint32(i)
		}
		var b builder
		b.init()
		type want struct {
			loc, person uint32
			start, end  scoring.Time
			id          string
		}
		var all []want
		wide := round%2 == 1
		for i := range n {
			w := want{loc: uint32(rng.IntN(len(locClass))), person: uint32(rng.IntN(1000))}
			w.start = scoring.Time(1_600_000_000 + rng.IntN(3600))
			w.end = w.start + scoring.Time(rng.IntN(7200))
			w.id = fmt.Sprintf("ev-%d", 100000+i)
			switch {
			case wide && i%97 == 0:
				w.person, w.start, w.end = ^uint32(0)-uint32(i), 1, scoring.MaxTime // 32-bit fields
			case wide && i%89 == 0:
				w.start = scoring.MaxTime - scoring.Time(i)
				w.end = w.start
			case i%7 == 0:
				w.id = fmt.Sprintf("x%dy", i) // no trailing number: a prefix of its own, then the arena
			case i%11 == 0:
				w.id = "" // no id
			}
			if n == 2 {
				w.loc = 0 // one location: zero-bit fields
			}
			all = append(all, w)
			b.add(locs.place, w.person, w.loc, w.loc, w.start, w.end, w.id)
		}
		s := b.seal(locs)
		if s.n() != n {
			t.Fatalf("n %d: sealed %d", n, s.n())
		}
		// Every record comes back, in (class, place, start) order.
		var got []want
		for k := range s.classes {
			c := &s.classes[k]
			for i := c.lo; i < c.hi; i++ {
				r := s.rec(c, i)
				if locClass[r.loc] != c.class {
					t.Fatalf("n %d: record %d of class %d in run %d", n, i, locClass[r.loc], c.class)
				}
				if r.start < c.minStart || r.end > c.maxEnd {
					t.Fatalf("n %d: record %d outside its run's bounds", n, i)
				}
				got = append(got, want{r.loc, r.person, r.start, r.end, s.id(i)})
			}
		}
		key := func(w want) string { return fmt.Sprintf("%d %d %d %d %s", w.loc, w.person, w.start, w.end, w.id) }
		sortKeys := func(ws []want) []string {
			var ks []string
			for _, w := range ws {
				ks = append(ks, key(w))
			}
			slices.Sort(ks)
			return ks
		}
		if !slices.Equal(sortKeys(got), sortKeys(all)) {
			t.Fatalf("n %d: records differ after packing", n)
		}
		for i := 1; i < len(got); i++ {
			a, c := got[i-1], got[i]
			if locClass[a.loc] == locClass[c.loc] && (a.loc > c.loc || (a.loc == c.loc && a.start > c.start)) {
				t.Fatalf("n %d: records %d, %d out of (place, start) order", n, i-1, i)
			}
		}
		for k := 1; k < len(s.byPerson); k++ {
			a, c := got[s.byPerson[k-1]], got[s.byPerson[k]]
			if a.person > c.person || (a.person == c.person && a.start > c.start) {
				t.Fatalf("n %d: byPerson out of order at %d", n, k)
			}
		}
		for _, w := range all {
			if !s.mayHold(w.person) {
				t.Fatalf("n %d: the person filter misses person %d", n, w.person)
			}
			if k := s.personRun(w.person); k >= n || got[s.byPerson[k]].person != w.person {
				t.Fatalf("n %d: personRun misses person %d", n, w.person)
			}
		}
		// A filtered copy keeps exactly the others.
		f := s.filter(locClass, func(r *rec) bool { return r.person%3 == 0 })
		var kept []want
		for _, w := range all {
			if w.person%3 != 0 {
				kept = append(kept, w)
			}
		}
		if len(kept) == 0 {
			if f != nil {
				t.Fatalf("n %d: filter kept %d of none", n, f.n())
			}
			continue
		}
		var fgot []want
		for k := range f.classes {
			c := &f.classes[k]
			for i := c.lo; i < c.hi; i++ {
				r := f.rec(c, i)
				fgot = append(fgot, want{r.loc, r.person, r.start, r.end, f.id(i)})
			}
		}
		if !slices.Equal(sortKeys(fgot), sortKeys(kept)) {
			t.Fatalf("n %d: filtered records differ", n)
		}
	}
}
