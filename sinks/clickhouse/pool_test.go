package clickhouse_test

import (
	"context"
	"runtime"
	"testing"

	"healthcode/sinks/clickhouse"
)

// TestBatch_CancelledContextSparesThePool: a batch whose context is cancelled
// right after Send returns leaves the pooled connection usable. clickhouse-go
// before v2.51.0 could close the TCP connection from a late context watchdog
// after the batch had gone back to the pool; the next query on it then failed
// with "use of closed network connection" (v2.50.0: 12 of 12,000 batches with
// GOMAXPROCS 1). Every open() here cancels the context Migrate's inserts ran
// under, so the first query of a test flaked under load. The batch is built
// as insertOnce builds the writes'; a Memory table keeps it cheap.
func TestBatch_CancelledContextSparesThePool(t *testing.T) {
	c := open(t, nil)
	bg := ctxT(t)
	if err := c.Conn().Exec(bg, "CREATE TABLE pool_probe (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const batches = 3000
	for i := range batches {
		ctx, cancel := context.WithCancel(bg)
		err := insertProbe(ctx, c)
		cancel()
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if err := c.Conn().Exec(bg, "SELECT 1"); err != nil {
			t.Fatalf("the query after batch %d failed: %v", i, err)
		}
	}
	if n := count(t, c, "SELECT count() FROM pool_probe"); n != batches {
		t.Errorf("pool_probe holds %d rows, want %d", n, batches)
	}
}

func insertProbe(ctx context.Context, c *clickhouse.Client) error {
	b, err := c.Conn().PrepareBatch(ctx, "INSERT INTO pool_probe (x)")
	if err != nil {
		return err
	}
	if err := b.Column(0).Append([]uint8{1}); err != nil {
		b.Abort()
		return err
	}
	return b.Send()
}
