package sim

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkRun measures generation and encoding alone (emit discards), one
// simulated day per op, at several population sizes.
func BenchmarkRun(b *testing.B) {
	for _, people := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("people=%d", people), func(b *testing.B) {
			cfg := Config{People: people, Days: 1}
			b.ReportAllocs()
			var msgs, size int64
			for b.Loop() {
				sum, err := Run(context.Background(), cfg, func(Message) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range sum.Messages {
					msgs += int64(n)
				}
				size = sum.Bytes
			}
			b.SetBytes(size)
			b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
