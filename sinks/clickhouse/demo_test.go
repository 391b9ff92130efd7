package clickhouse_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"healthcode/sinks/clickhouse"
)

// TestDemoDatabase: the demo resets a database it created, and refuses one it
// did not (touching nothing in it).
func TestDemoDatabase(t *testing.T) {
	c := open(t, nil) // a database made by Open, as a real deployment's is
	ctx := ctxT(t)
	o := c.Options()
	db := o.Database
	err := clickhouse.ResetDemoDatabase(ctx, o)
	want := "database " + db + " exists and was not created by a demo run: refusing to drop it; choose another --clickhouse-db or drop it yourself"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ResetDemoDatabase of a database it did not create = %v, want %q", err, want)
	}
	if err := clickhouse.DropDemoDatabase(ctx, o); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("DropDemoDatabase of a database it did not create = %v, want %q", err, want)
	}
	if n := count(t, c, "SELECT count() FROM system.tables WHERE database = ? AND name = 'events'", db); n != 1 {
		t.Fatal("the refused database lost its tables")
	}
	// An empty database without the marker is refused too.
	if err := c.Conn().Exec(ctx, "CREATE DATABASE "+db+"_empty"+onClusterSQL(o)); err != nil {
		t.Fatal(err)
	}
	empty := o
	empty.Database = db + "_empty"
	t.Cleanup(func() { clickhouse.DropDatabase(ctx, empty) })
	if err := clickhouse.DropDemoDatabase(ctx, empty); err == nil || !strings.Contains(err.Error(), "was not created by a demo run") {
		t.Errorf("DropDemoDatabase of an empty unmarked database = %v, want a refusal", err)
	}

	// A demo's own database: created, filled, then reset to empty.
	key := people(rand.New(rand.NewPCG(31, 32)), 1)[0]
	demo := o
	demo.Database = db + "_demo"
	t.Cleanup(func() { clickhouse.DropDatabase(ctx, demo) })
	for run := 1; run <= 2; run++ {
		if err := clickhouse.ResetDemoDatabase(ctx, demo); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if n := count(t, c, "SELECT count() FROM system.tables WHERE database = ?", demo.Database); n != 1 {
			t.Errorf("run %d: the reset demo database has %d tables, want 1 (the marker)", run, n)
		}
		dc, err := clickhouse.Open(ctx, demo)
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.WriteColourUpdates(ctx, updates(key, 2, time.Date(2020, 3, 16, 2, 0, 0, 0, time.UTC))); err != nil {
			t.Fatal(err)
		}
		if n, err := dc.Count(ctx, "colour_changes", false); err != nil || n != 2 {
			t.Errorf("run %d: colour_changes has %d rows (%v), want 2: the reset left old rows", run, n, err)
		}
		dc.Close()
	}
	if err := clickhouse.DropDemoDatabase(ctx, demo); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT count() FROM system.databases WHERE name = ?", demo.Database); n != 0 {
		t.Error("the demo database is still there after DropDemoDatabase")
	}
	// A missing database is nothing to drop.
	if err := clickhouse.DropDemoDatabase(ctx, demo); err != nil {
		t.Errorf("DropDemoDatabase of a missing database = %v", err)
	}
}

func onClusterSQL(o clickhouse.Options) string {
	if o.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + o.Cluster
}
