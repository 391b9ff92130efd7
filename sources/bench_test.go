package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func compactExample(b *testing.B, s Stream, edit func(m map[string]any)) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, edited(b, s, edit)); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkDecode_Checkin measures the ingest hot path. The baseline only
// unmarshals the same message into a plain struct of strings and float64s
// with encoding/json (no validation, no HMAC, no H3), to show what the
// decoder adds on top of JSON parsing.
func BenchmarkDecode_Checkin(b *testing.B) {
	msg := compactExample(b, StreamCheckins, nil)
	b.Run("decoder", func(b *testing.B) {
		d := newTestDecoder(b, Config{})
		var batch Batch
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if len(batch.Events) == 1024 {
				batch.Reset()
			}
			if err := d.Decode(StreamCheckins, msg, &batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=json.Unmarshal", func(b *testing.B) {
		type plain struct {
			EventID    string `json:"event_id"`
			Source     string `json:"source"`
			OccurredAt string `json:"occurred_at"`
			Person     struct {
				IDType   string `json:"id_type"`
				IDNumber string `json:"id_number"`
			} `json:"person"`
			Venue struct {
				ID   string  `json:"id"`
				Name string  `json:"name"`
				Lat  float64 `json:"lat"`
				Lng  float64 `json:"lng"`
			} `json:"venue"`
			LeftAt string `json:"left_at"`
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var p plain
			if err := json.Unmarshal(msg, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode_Flight(b *testing.B) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 30, 300} {
		b.Run(fmt.Sprintf("passengers=%d", n), func(b *testing.B) {
			d := newTestDecoder(b, Config{})
			var passengers []any
			ids := map[string]bool{}
			for i := 0; i < n; i++ {
				id := GenerateResidentID(r, "330106", time.Date(1980, 1, 1+i%28, 0, 0, 0, 0, time.UTC))
				if ids[id] { // a person listed again with another seat is refused
					i--
					continue
				}
				ids[id] = true
				passengers = append(passengers, map[string]any{
					"person": map[string]any{"id_type": "resident_id", "id_number": id},
					"seat":   fmt.Sprintf("%d%c", 1+i/6, 'A'+i%6),
				})
			}
			msg := compactExample(b, StreamFlights, func(m map[string]any) { m["passengers"] = passengers })
			var batch Batch
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				batch.Reset()
				if err := d.Decode(StreamFlights, msg, &batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/passenger")
		})
	}
}

// BenchmarkDecode_Stream decodes each stream's embedded example, compacted:
// the whole path of one message, from JSON to validated output.
func BenchmarkDecode_Stream(b *testing.B) {
	for _, s := range Streams {
		b.Run(s.String(), func(b *testing.B) {
			var msg bytes.Buffer
			if err := json.Compact(&msg, Examples()[s]); err != nil {
				b.Fatal(err)
			}
			d := newTestDecoder(b, Config{})
			var batch Batch
			b.ReportAllocs()
			b.SetBytes(int64(msg.Len()))
			for b.Loop() {
				batch.Reset()
				if err := d.Decode(s, msg.Bytes(), &batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnmarshal measures the JSON decoding alone, each stream's example
// into its message struct: the package's reader beside encoding/json (the
// oracle of the tests, which the reader replaced), in the same run.
func BenchmarkUnmarshal(b *testing.B) {
	for _, s := range Streams {
		var msg bytes.Buffer
		if err := json.Compact(&msg, Examples()[s]); err != nil {
			b.Fatal(err)
		}
		for _, way := range []struct {
			name      string
			unmarshal func(*call, []byte) *RejectError
		}{{"reader", (*call).unmarshal}, {"encoding-json", (*call).oracleUnmarshal}} {
			b.Run(s.String()+"/"+way.name, func(b *testing.B) {
				d := newTestDecoder(b, Config{})
				sc := d.pool.Get().(*scratch)
				c := &sc.call
				b.ReportAllocs()
				b.SetBytes(int64(msg.Len()))
				for b.Loop() {
					*c = call{d: d, sc: sc, s: s, passenger: -1}
					if r := way.unmarshal(c, msg.Bytes()); r != nil {
						b.Fatal(r)
					}
					sc.clearMessage(s)
				}
			})
		}
	}
}
