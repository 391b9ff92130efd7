package bench

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// sinkBatchRows is the rows per insert of the sink benchmark: the sink
// stage's default batch (pipeline.Options.SinkBatch).
const sinkBatchRows = 50000

// Sink measures the ClickHouse sink: Client.WriteEvents of o.SinkRows
// generated events, in batches of sinkBatchRows, into a fresh
// database (dropped afterwards); beside a bare clickhouse-go columnar insert
// of as many rows of four prebuilt columns into a plain MergeTree table, in
// the same batches, in the same run.
func Sink(ctx context.Context, o *Options, r *Report) (err error) {
	co := o.ClickHouse
	co.Database = o.ClickHouse.Database + "_sink"
	if err := clickhouse.DropDatabase(ctx, co); err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	c, err := clickhouse.Open(ctx, co)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer func() {
		c.Close()
		if derr := clickhouse.DropDatabase(context.WithoutCancel(ctx), co); derr != nil && err == nil {
			err = fmt.Errorf("sink: %w", derr)
		}
	}()
	batch := sinkBatchRows
	n := o.SinkRows
	evs, meta := sinkEvents(n)

	start := time.Now()
	for i := 0; i < n; i += batch {
		j := min(i+batch, n)
		if err := c.WriteEvents(ctx, meta[i:j], evs[i:j]); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	took := time.Since(start)
	rows, err := c.Count(ctx, "events", false)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	if rows != uint64(n) {
		return fmt.Errorf("sink: events holds %d rows after writing %d", rows, n)
	}

	bareTook, err := bareInsert(ctx, c, evs, batch)
	if err != nil {
		return fmt.Errorf("sink: bare insert: %w", err)
	}
	o.Logger.Info("sink: written", "rows", n, "took", took, "bare", bareTook)
	r.Add(Figure{Key: "clickhouse_rows_per_sec", Value: float64(n) / took.Seconds(), Unit: "rows/s",
		Baseline: "bare clickhouse-go columnar insert, 4 prebuilt columns", BaselineValue: float64(n) / bareTook.Seconds(),
		Note: fmt.Sprintf("Client.WriteEvents of %d generated events (every kind; 20 columns, keys hex-encoded by the writer) "+
			"in batches of %d into the events table (ReplacingMergeTree) of a fresh database, loopback; "+
			"the baseline inserts the same number of rows of person_key, occurred_at, kind, event_id, "+
			"prepared beforehand, into a plain MergeTree in the same batches", n, batch)})
	return nil
}

// sinkEvents generates n events of every person kind about n/10 persons over
// 30 days, as the score stage hands them to the sink (with their Kafka origin).
func sinkEvents(n int) ([]scoring.Event, []clickhouse.EventMeta) {
	rng := rand.New(rand.NewPCG(uint64(n), 5))
	t0 := scoring.MustTime("2020-03-01T00:00:00+08:00")
	venues := make([]string, 1000)
	for i := range venues {
		venues[i] = fmt.Sprintf("V330102%06d", i)
	}
	sources := []string{"lab", "checkins", "travel", "flights", "vaccinations", "declarations", "overrides", "tracing"}
	evs := make([]scoring.Event, n)
	meta := make([]clickhouse.EventMeta, n)
	for i := range evs {
		k := scoring.Kind(1 + i%8)
		at := t0 + scoring.Time(rng.IntN(30*86400))
		e := scoring.Event{Person: corePerson(rng.IntN(max(n/10, 1))), Kind: k, At: at, Source: sources[k-1],
			ID: "sim-s1-" + sources[k-1] + "-" + strconv.Itoa(i)}
		switch k {
		case scoring.KindTest:
			e.Sub, e.Result, e.End = uint8(scoring.TestPCR), scoring.ResultNegative, at+6*3600
		case scoring.KindCheckin:
			e.Place, e.Cell = venues[rng.IntN(len(venues))], 0x8f30e1c6b5a0000+uint64(rng.IntN(1<<16))
			if rng.IntN(2) == 0 {
				e.End = at + 3600
			}
		case scoring.KindTravel:
			e.Place, e.Country, e.End = "330102", "CHN", at+48*3600
		case scoring.KindArrival:
			e.Place, e.Country, e.Row, e.End = "CA936/2020-03-16", "DEU", int16(1+rng.IntN(45)), at-11*3600
		case scoring.KindVaccination:
			e.Dose = uint8(1 + rng.IntN(3))
		case scoring.KindDeclaration:
			e.TempDeci = int16(360 + rng.IntN(15))
		case scoring.KindOverride:
			e.Level, e.End, e.Text = 0, at+7*86400, "复核后更正 corrected after appeal"
		case scoring.KindExposure:
			e.Sub, e.Place = uint8(scoring.ExposureCompanion), venues[0]
		}
		evs[i] = e
		meta[i] = clickhouse.EventMeta{Topic: "hc.person-events", Partition: int32(i % 12), Offset: int64(i / 12)}
	}
	return evs, meta
}

// bareInsert creates a four-column MergeTree table and times inserting one
// row per event into it, columns prepared before timing.
func bareInsert(ctx context.Context, c *clickhouse.Client, evs []scoring.Event, batch int) (time.Duration, error) {
	conn := c.Conn()
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS bare (person_key FixedString(32), occurred_at DateTime('UTC'), "+
		"kind UInt8, event_id String) ENGINE = MergeTree() ORDER BY (person_key, occurred_at)"); err != nil {
		return 0, fmt.Errorf("create table bare: %w", err)
	}
	n := len(evs)
	keyBuf := make([]byte, 32*n)
	keys := make([][]byte, n)
	at := make([]int64, n)
	kinds := make([]uint8, n)
	ids := make([]string, n)
	for i := range evs {
		hex.Encode(keyBuf[32*i:], evs[i].Person[:])
		keys[i] = keyBuf[32*i : 32*i+32 : 32*i+32]
		at[i] = scoring.Epoch + int64(evs[i].At)
		kinds[i] = uint8(evs[i].Kind)
		ids[i] = evs[i].ID
	}
	start := time.Now()
	for i := 0; i < n; i += batch {
		j := min(i+batch, n)
		b, err := conn.PrepareBatch(ctx, "INSERT INTO bare (person_key, occurred_at, kind, event_id)")
		if err != nil {
			return 0, fmt.Errorf("prepare: %w", err)
		}
		for col, v := range []any{keys[i:j], at[i:j], kinds[i:j], ids[i:j]} {
			if err := b.Column(col).Append(v); err != nil {
				b.Abort()
				return 0, fmt.Errorf("append column %d: %w", col, err)
			}
		}
		if err := b.Send(); err != nil {
			return 0, fmt.Errorf("send: %w", err)
		}
	}
	took := time.Since(start)
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM bare").Scan(&rows); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	if rows != uint64(n) {
		return 0, fmt.Errorf("bare holds %d rows after inserting %d", rows, n)
	}
	return took, nil
}
