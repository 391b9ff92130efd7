package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// open opens a Client on a fresh database of the test server.
func open(tb testing.TB, mod func(*clickhouse.Options)) *clickhouse.Client {
	tb.Helper()
	o := chtest.Start(tb)
	o.Logger = slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := clickhouse.Open(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// count runs a query returning one UInt64.
func count(tb testing.TB, c *clickhouse.Client, q string, args ...any) uint64 {
	tb.Helper()
	var n uint64
	if err := c.Conn().QueryRow(ctxT(tb), q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// optimizeFinal runs stmt (an OPTIMIZE ... FINAL) until q counts want rows,
// for up to a minute. OPTIMIZE does not promise a merge when it returns: it
// does nothing, silently, while a background merge holds the parts, and on a
// Replicated table it only queues the merge in ZooKeeper (18.16 waits for no
// replica). Under load the tests saw 1232 rows for 1000 right after it.
func optimizeFinal(tb testing.TB, c *clickhouse.Client, stmt, q string, want uint64) {
	tb.Helper()
	ctx := ctxT(tb)
	deadline := time.Now().Add(time.Minute)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		if err := c.Conn().Exec(ctx, stmt); err != nil {
			tb.Fatalf("%s: %v", stmt, err)
		}
		n := count(tb, c, q)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Errorf("after a minute of %s: %d rows, want %d", stmt, n, want)
			return
		}
		time.Sleep(wait)
	}
}

// people returns n random person keys (pseudonymous keys are HMAC output, so
// random bytes are what they look like; no identifier is involved).
func people(r *rand.Rand, n int) []scoring.PersonKey {
	ks := make([]scoring.PersonKey, n)
	for i := range ks {
		for j := range ks[i] {
			ks[i][j] = byte(r.Uint32())
		}
	}
	return ks
}

// genEvents returns n events of every person kind in turn, about the given
// people, between from and from+60 days, each with the fields its kind uses.
func genEvents(r *rand.Rand, who []scoring.PersonKey, n int, from scoring.Time) []scoring.Event {
	evs := make([]scoring.Event, n)
	for i := range evs {
		k := scoring.Kind(1 + i%8)
		at := from.Add(time.Duration(r.IntN(60*24*3600)) * time.Second)
		e := scoring.Event{
			Person: who[r.IntN(len(who))],
			Kind:   k,
			At:     at,
			ID:     fmt.Sprintf("ev-%d-%d", i, r.Uint32()),
			Source: "gen",
		}
		switch k {
		case scoring.KindTest:
			e.Sub = uint8(scoring.TestPCR) + uint8(r.IntN(4))
			e.Result = scoring.ResultNegative + scoring.Result(r.IntN(3))
			e.End = at.Add(6 * time.Hour)
			e.Source = "lab"
		case scoring.KindCheckin:
			e.Place = fmt.Sprintf("V330102%06d", r.IntN(1e6))
			e.Cell = 0x8f30e1c6b5a0000 + uint64(r.IntN(1<<16))
			if r.IntN(2) == 0 {
				e.End = at.Add(time.Hour)
			}
		case scoring.KindTravel:
			e.Place, e.Country = "330102", "CHN"
			e.End = at.Add(48 * time.Hour)
		case scoring.KindArrival:
			e.Place, e.Country = "CA936/2020-03-16", "DEU"
			e.Row = int16(1 + r.IntN(40))
			if r.IntN(10) == 0 {
				e.Row = scoring.RowCrew
			}
			e.End = at.Add(-11 * time.Hour)
		case scoring.KindVaccination:
			e.Dose = uint8(1 + r.IntN(3))
		case scoring.KindDeclaration:
			e.Symptoms = uint8(r.IntN(32))
			if r.IntN(2) == 0 {
				e.TempDeci = int16(355 + r.IntN(50))
			}
		case scoring.KindOverride:
			e.Level = uint8(r.IntN(3))
			e.End = at.Add(7 * 24 * time.Hour)
			e.Text = "复核后更正 corrected after appeal"
		case scoring.KindExposure:
			e.Sub = uint8(scoring.ExposureClose) + uint8(r.IntN(5))
			e.Place = "V330102000123"
		}
		evs[i] = e
	}
	return evs
}
