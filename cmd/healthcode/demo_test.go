package main

import (
	"context"
	"os"
	"regexp"
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
		"--clickhouse", o.Addr, "--pseudonym-key", "demo-test-key", "--broker-port", "0"}
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

// TestRunSimulate_HTTP: with --http, run --simulate prints the URLs of a
// person's code page and of the metrics after its summary and, with standard
// input not a terminal, exits instead of serving.
func TestRunSimulate_HTTP(t *testing.T) {
	o := chtest.Start(t)
	o.Database += "_demo"
	t.Cleanup(func() { clickhouse.DropDatabase(context.Background(), o) })
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	stdin := os.Stdin
	os.Stdin = null
	defer func() { os.Stdin = stdin }()
	out, err := run(t, runCmd, "--simulate", "--people", "300", "--days", "1", "--data-dir", t.TempDir(),
		"--clickhouse", o.Addr, "--clickhouse-db", o.Database, "--broker-port", "0", "--http", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("run --simulate --http: %v\n%s", err, out)
	}
	for _, re := range []string{`embedded Kafka-protocol broker on 127\.0\.0\.1:\d+`, `http://127\.0\.0\.1:\d+/codes/[0-9a-f]{32} `,
		`http://127\.0\.0\.1:\d+/v1/codes/[0-9a-f]{32} `, `http://127\.0\.0\.1:\d+/metrics`, `generated in memory`, `not a terminal: not waiting`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}
