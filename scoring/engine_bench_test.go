package scoring_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

// Facts must stay one cache line and pointer-free: finding a person and
// deciding on them then costs one miss past the index, and the garbage
// collector never scans the state of millions of persons.
func TestFacts_SizeAndPointerFree(t *testing.T) {
	const budget = 64 // bytes per person, the key included; 1M persons = 64 MB
	size := unsafe.Sizeof(scoring.Facts{})
	t.Logf("unsafe.Sizeof(scoring.Facts{}) = %d bytes", size)
	if size > budget {
		t.Errorf("Facts is %d bytes, budget %d", size, budget)
	}
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(path+"."+ty.Field(i).Name, ty.Field(i).Type)
			}
		case reflect.Array:
			walk(path+"[]", ty.Elem())
		case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		default:
			t.Errorf("%s is a %s: Facts must hold no pointers", path, ty.Kind())
		}
	}
	walk("Facts", reflect.TypeOf(scoring.Facts{}))
}

// benchWorld is a synthetic partition: persons, venues (some under a
// designated cell), and a stream of mixed events over three weeks.
type benchWorld struct {
	keys   []scoring.PersonKey
	events []scoring.Event
	desigs []scoring.Designation
}

func newBenchWorld(persons, events int) *benchWorld {
	rng := rand.New(rand.NewPCG(uint64(persons), uint64(events)))
	w := &benchWorld{keys: make([]scoring.PersonKey, persons)}
	for i := range w.keys {
		var k scoring.PersonKey
		for j := 0; j < 16; j += 8 {
			v := rng.Uint64()
			for b := range 8 {
				k[j+b] = byte(v >> (8 * b))
			}
		}
		w.keys[i] = k
	}
	// 2,000 venues around Hangzhou; the cell of every 20th venue's parent at
	// resolution 8 is designated high for the whole period.
	venues := make([]uint64, 2000)
	for i := range venues {
		c := h3.LatLngToCell(h3.NewLatLng(30.1+rng.Float64()*0.4, 119.9+rng.Float64()*0.5), 15)
		venues[i] = uint64(c)
		if i%20 == 0 {
			w.desigs = append(w.desigs, scoring.Designation{Kind: scoring.AreaH3, Cell: uint64(c.Parent(8)),
				Level: scoring.RiskHigh, From: at("-30d"), ID: fmt.Sprint("area-", i)})
		}
	}
	w.events = make([]scoring.Event, events)
	span := 21 * 86400
	for i := range w.events {
		ev := scoring.Event{Person: w.keys[rng.IntN(persons)], At: t0 + scoring.Time(i*span/events), ID: fmt.Sprint("e", i), Source: "bench"}
		switch x := rng.IntN(100); {
		case x < 60:
			ev.Kind, ev.Cell, ev.Place = scoring.KindCheckin, venues[rng.IntN(len(venues))], "V330102000123"
			ev.End = ev.At + scoring.Time(600+rng.IntN(7200))
		case x < 90:
			ev.Kind, ev.Sub, ev.Result = scoring.KindTest, uint8(scoring.TestPCR), scoring.ResultNegative
			if rng.IntN(1000) == 0 {
				ev.Result = scoring.ResultPositive
			}
		case x < 97:
			ev.Kind, ev.TempDeci = scoring.KindDeclaration, int16(360+rng.IntN(15))
		default:
			ev.Kind, ev.Sub = scoring.KindExposure, uint8(scoring.ExposureCompanion+scoring.ExposureKind(rng.IntN(3)))
		}
		w.events[i] = ev
	}
	return w
}

func (w *benchWorld) engine(b *testing.B) *scoring.Engine {
	eng := scoring.NewEngine(loadPolicy(b, "domestic"), scoring.EngineOptions{People: len(w.keys)})
	for _, d := range w.desigs {
		eng.AddDesignation(d, t0, nil)
	}
	return eng
}

// BenchmarkApply measures events/s through Engine.Apply: mixed check-ins,
// tests, declarations and exposures spread over a partition's persons.
func BenchmarkApply(b *testing.B) {
	for _, persons := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("persons=%d", persons), func(b *testing.B) {
			w := newBenchWorld(persons, 1<<20)
			eng := w.engine(b)
			var ups []scoring.Update
			// Every person of the partition is known before timing starts
			// (a healthy daily report each).
			before := at("-1d")
			for i, k := range w.keys {
				ups, _ = eng.Apply(&scoring.Event{Person: k, Kind: scoring.KindDeclaration, TempDeci: 365, At: before,
					ID: fmt.Sprint("d", i)}, before, ups[:0])
			}
			n := len(w.events)
			updates := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ev := w.events[i%n]
				// Later passes over the stream are later in time, so they
				// change facts instead of being absorbed as duplicates.
				shift := scoring.Time(i/n) * 21 * 86400
				ev.At += shift
				if ev.End != 0 {
					ev.End += shift
				}
				var err error
				if ups, err = eng.Apply(&ev, ev.At, ups[:0]); err != nil {
					b.Fatal(err)
				}
				updates += len(ups)
				if i%4096 == 0 {
					ups = eng.Advance(ev.At, ups[:0])
					updates += len(ups)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(updates)/float64(b.N), "updates/event")
			b.ReportMetric(float64(eng.Len()), "persons")
		})
	}
}

// BenchmarkRecomputeAll measures SetPolicy over every person of a partition
// (a policy change recomputes everyone), alternating two policies so that
// yellow persons change colour each time.
func BenchmarkRecomputeAll(b *testing.B) {
	for _, persons := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("persons=%d", persons), func(b *testing.B) {
			w := newBenchWorld(persons, persons*2)
			eng := w.engine(b)
			var ups []scoring.Update
			for i := range w.events {
				ups, _ = eng.Apply(&w.events[i], w.events[i].At, ups[:0])
			}
			pols := []*scoring.Policy{loadPolicy(b, "tianjin"), loadPolicy(b, "domestic")}
			now := at("21d")
			changed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ups = eng.SetPolicy(pols[i%2], now, ups[:0])
				changed += len(ups)
			}
			b.ReportMetric(float64(b.N)*float64(eng.Len())/b.Elapsed().Seconds(), "persons/s")
			b.ReportMetric(float64(changed)/float64(b.N), "updates/op")
		})
	}
}
