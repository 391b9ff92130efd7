package clickhouse_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// BenchmarkWriteEvents measures one batched insert of n events against the
// test server (client encoding, loopback transfer and the server's write),
// in rows/s and in native-format bytes/s.
func BenchmarkWriteEvents(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			c := open(b, nil)
			ctx := ctxT(b)
			r := rand.New(rand.NewPCG(15, 16))
			evs := genEvents(r, people(r, n/10), n, scoring.MustTime("2020-03-01T00:00:00Z"))
			meta := make([]clickhouse.EventMeta, n)
			for i := range meta {
				meta[i] = clickhouse.EventMeta{Topic: "hc.person-events", Partition: int32(i % 12), Offset: int64(i)}
			}
			b.SetBytes(int64(wireBytes(meta, evs)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.WriteEvents(ctx, meta, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// wireBytes approximates the native-format size of the events columns: fixed
// widths plus each string with a one-byte length.
func wireBytes(meta []clickhouse.EventMeta, evs []scoring.Event) int {
	const fixed = 32 + 1 + 5 + 4 + 2 + 4 + 4 + 8 + 4 + 8 // key, kind, 5×UInt8, temp, row, 2×DateTime, cell, partition, offset
	n := 0
	for i, e := range evs {
		n += fixed + 6 + len(e.ID) + len(e.Source) + len(e.Country) + len(e.Place) + len(e.Text) + len(meta[i].Topic)
	}
	return n
}
