package main

import (
	"context"
	"strings"
	"testing"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// TestRunSimulate_RefusesForeignDatabase: run --simulate pointed at a database
// it did not create stops before touching it; one it created is reset and
// filled.
func TestRunSimulate_RefusesForeignDatabase(t *testing.T) {
	ctx := context.Background()
	o := chtest.Start(t)
	c, err := clickhouse.Open(ctx, o) // an operator's database, with the tables
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	args := []string{"--simulate", "--people", "200", "--days", "1", "--data-dir", t.TempDir(),
		"--clickhouse", o.Addr, "--pseudonym-key", "demo-test-key"}
	_, err = run(t, runCmd, append(args, "--clickhouse-db", o.Database)...)
	if err == nil || !strings.Contains(err.Error(), "was not created by a demo run: refusing to drop it") {
		t.Fatalf("run --simulate on a foreign database: %v, want a refusal", err)
	}
	if n, err := c.Count(ctx, "events", false); err != nil || n != 0 {
		t.Errorf("the refused database changed: events %d, %v", n, err)
	}

	demo := o
	demo.Database = o.Database + "_demo"
	t.Cleanup(func() { clickhouse.DropDatabase(context.Background(), demo) })
	for range 2 { // the second run drops the first run's database
		out, err := run(t, runCmd, append(args, "--clickhouse-db", demo.Database)...)
		if err != nil {
			t.Fatalf("run --simulate: %v\n%s", err, out)
		}
	}
	dc, err := clickhouse.Open(ctx, demo)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if n, err := dc.Count(ctx, "colours_current", true); err != nil || n == 0 {
		t.Errorf("the demo database holds %d current colours (%v), want some", n, err)
	}
}
