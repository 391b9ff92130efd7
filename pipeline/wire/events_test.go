package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"healthcode/scoring"
)

// key returns a generated person key (no real identifier behind it).
func key(r *rand.Rand) scoring.PersonKey {
	var k scoring.PersonKey
	for i := range k {
		k[i] = byte(r.Uint32())
	}
	return k
}

// sampleEvents returns one event of every kind with every field its kind uses,
// plus one with every field set, from a fixed seed.
func sampleEvents() []scoring.Event {
	r := rand.New(rand.NewPCG(1, 2))
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	return []scoring.Event{
		{Person: key(r), Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultPositive,
			At: at, End: at.Add(20 * 3600e9), ID: "lab-7f3a-000001", Source: "lab.hz.3"},
		{Person: key(r), Kind: scoring.KindTest, Sub: uint8(scoring.TestIgM), Result: scoring.ResultInconclusive,
			At: at, ID: "lab-7f3a-000002", Source: "lab.hz.3"},
		{Person: key(r), Kind: scoring.KindCheckin, At: at, End: at.Add(3600e9), Cell: 0x8f30e1c6b5a4d21,
			Place: "V330102000123", ID: "ck-1", Source: "venue-app"},
		{Person: key(r), Kind: scoring.KindTravel, At: at, End: at.Add(48 * 3600e9), Cell: 0,
			Country: "CHN", Place: "330102", ID: "tr-1", Source: "telecom.cm"},
		{Person: key(r), Kind: scoring.KindArrival, Row: 23, At: at, End: at.Add(-11 * 3600e9),
			Country: "DEU", Place: "CA936/2020-03-16", ID: "fl-CA936-2020-03-16#23C", Source: "customs"},
		{Person: key(r), Kind: scoring.KindArrival, Row: scoring.RowCrew, At: at,
			Country: "DEU", Place: "CA936/2020-03-16", ID: "fl-CA936-2020-03-16#crew", Source: "customs"},
		{Person: key(r), Kind: scoring.KindVaccination, Dose: 2, At: at, ID: "vx-9", Source: "registry"},
		{Person: key(r), Kind: scoring.KindDeclaration, Symptoms: scoring.SymptomFever | scoring.SymptomCough,
			TempDeci: 379, At: at, ID: "dc-1", Source: "declaration"},
		{Person: key(r), Kind: scoring.KindDeclaration, TempDeci: -15, At: at, ID: "dc-2", Source: "declaration"},
		{Person: key(r), Kind: scoring.KindOverride, Level: 0, At: at, End: at.Add(7 * 24 * 3600e9),
			Text: "复核后更正 / corrected after appeal", ID: "ov-1", Source: "command-centre"},
		{Person: key(r), Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at,
			Place: "V330102000123", ID: "trace-1", Source: "tracing"},
		{Kind: scoring.KindTick, At: at.Add(3600e9)},
		{Person: key(r), Kind: scoring.KindExposure, Sub: 255, Result: 255, Level: 255, Dose: 255, Symptoms: 255,
			TempDeci: -32768, Row: 32767, At: scoring.MaxTime, End: 1, Cell: 1<<64 - 1,
			Country: "XYZ", Place: "all fields", ID: "max", Source: "s", Text: "t\x00\xff"},
	}
}

func TestEncodeEvents_RoundTrip(t *testing.T) {
	all := sampleEventsV2()
	tests := []struct {
		name string
		evs  []scoring.Event
	}{
		{"empty", nil},
		{"all kinds", all},
	}
	for _, ev := range all {
		tests = append(tests, struct {
			name string
			evs  []scoring.Event
		}{ev.Kind.String() + "/" + ev.ID, []scoring.Event{ev}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeEvents(tt.evs)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []scoring.Event{{Kind: scoring.KindTick, At: 7}}
			got, err := DecodeEvents(b, prefix)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]scoring.Event{{Kind: scoring.KindTick, At: 7}}, tt.evs...)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// sampleEventsV2 adds what version 2 carries: exposure versions, their
// earliest time, retractions, and a retracted mark.
func sampleEventsV2() []scoring.Event {
	evs := sampleEvents()
	r := rand.New(rand.NewPCG(5, 6))
	at := scoring.MustTime("2020-03-16T10:00:00+08:00")
	return append(evs,
		scoring.Event{Person: key(r), Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at, First: at.Add(-3600e9),
			End: at.Add(48 * 3600e9), Place: "v:V330102000123", ID: "exp-0123456789abcdef0123456789abcdef", Source: "tracing",
			Text: key(r).String(), Version: 1<<40 + 7},
		scoring.Event{Person: key(r), Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureAreaHigh), Place: "r:330102",
			ID: "exp-fedcba9876543210fedcba9876543210", Source: "tracing", Version: 1<<63 + 1, Retracted: true},
		scoring.Event{Person: key(r), Kind: scoring.KindMark, Sub: uint8(scoring.MarkClose), ID: "exp-0123456789abcdef0123456789abcdef", Retracted: true},
	)
}

// The version 2 golden file is what EncodeEvents writes; the version 1 golden
// file, written by earlier builds, still decodes to the same events (with
// First, Version and Retracted zero).
func TestDecodeEvents_Golden(t *testing.T) {
	b, err := EncodeEvents(sampleEventsV2())
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "events-v2.arrow", b)
	if !bytes.Equal(b, want) {
		t.Errorf("EncodeEvents output differs from testdata/events-v2.arrow (%d vs %d bytes): the wire format changed; "+
			"bump eventsVersion or run go test -update if the change is compatible", len(b), len(want))
	}
	got, err := DecodeEvents(want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleEventsV2()) {
		t.Errorf("golden file decodes to\n%+v", got)
	}
	v1, err := os.ReadFile(filepath.Join("testdata", "events-v1.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	if string(v1[:4]) != "hce\x01" {
		t.Fatalf("events-v1.arrow has header %q", v1[:4])
	}
	got, err = DecodeEvents(v1, nil)
	if err != nil {
		t.Fatalf("version 1 golden file: %v", err)
	}
	if !reflect.DeepEqual(got, sampleEvents()) {
		t.Errorf("version 1 golden file decodes to\n%+v", got)
	}
}

func TestDecodeEvents_Malformed(t *testing.T) {
	good, err := EncodeEvents(sampleEvents())
	if err != nil {
		t.Fatal(err)
	}
	empty, err := EncodeEvents(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, b []byte, want error) {
		t.Helper()
		dst := make([]scoring.Event, 1, 4)
		got, err := DecodeEvents(b, dst)
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
		if len(got) != 1 {
			t.Errorf("%s: len(dst) = %d after an error, want 1", name, len(got))
		}
	}
	f("nil", nil, ErrMalformed)
	f("header only", []byte("hce\x01"), ErrMalformed)
	f("wrong magic", append([]byte("hcd\x01"), good[4:]...), ErrMalformed)
	f("future version", append([]byte("hce\x03"), good[4:]...), ErrVersion)
	f("version 1 header on version 2 data", append([]byte("hce\x01"), good[4:]...), ErrMalformed)
	f("trailing byte", append(append([]byte(nil), good...), 0), ErrMalformed)
	f("two streams", append(append([]byte(nil), good...), empty[4:]...), ErrMalformed)
	format, err := formatV2()
	if err != nil {
		t.Fatal(err)
	}
	f("no schema", append([]byte("hce\x02"), good[headerLen+len(format.schemaMsg):]...), ErrMalformed)

	// Every truncation fails cleanly.
	for n := 0; n < len(good); n++ {
		if _, err := DecodeEvents(good[:n], nil); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(good))
		}
	}
	// Every single-byte corruption either fails cleanly or decodes to the
	// same number of events (a flipped value byte is still a valid batch).
	for i := 4; i < len(good); i++ {
		b := append([]byte(nil), good...)
		b[i] ^= 0xA5
		got, err := DecodeEvents(b, nil)
		if err == nil && len(got) != len(sampleEvents()) {
			t.Fatalf("byte %d flipped: %d events, want %d or an error", i, len(got), len(sampleEvents()))
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	all := sampleEventsV2()
	if v1, err := os.ReadFile(filepath.Join("testdata", "events-v1.arrow")); err == nil {
		f.Add(v1)
	}
	for _, evs := range [][]scoring.Event{nil, all[:1], all} {
		b, err := EncodeEvents(evs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("hce\x01\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := DecodeEvents(b, nil)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same events.
		b2, err := EncodeEvents(evs)
		if err != nil {
			t.Fatal(err)
		}
		evs2, err := DecodeEvents(b2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("re-encoding changed the events")
		}
	})
}

// benchEvents returns n generated events with a realistic mix of kinds.
func benchEvents(n int) []scoring.Event {
	r := rand.New(rand.NewPCG(3, 4))
	kinds := sampleEvents()
	evs := make([]scoring.Event, n)
	for i := range evs {
		e := kinds[r.IntN(len(kinds)-1)]
		e.Person = key(r)
		e.At += scoring.Time(r.IntN(86400))
		e.ID = fmt.Sprintf("evt-%012d", r.Int64N(1e12))
		evs[i] = e
	}
	return evs
}

func BenchmarkEncodeEvents(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			evs := benchEvents(n)
			enc, err := EncodeEvents(evs)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := EncodeEvents(evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64(len(enc))/float64(n), "B/event")
		})
	}
}

func BenchmarkDecodeEvents(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			enc, err := EncodeEvents(benchEvents(n))
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]scoring.Event, 0, n)
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if dst, err = DecodeEvents(enc, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64(len(enc))/float64(n), "B/event")
		})
	}
}
