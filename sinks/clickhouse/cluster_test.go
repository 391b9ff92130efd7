package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// TestCluster runs the package's tests of a live server on the test cluster
// (two shards, ZooKeeper; see chtest), unchanged: migrations, writers,
// colours_current through argMax and FINAL, counts, retention.
// TestWriteEvents_DuplicatesMerge is left out: on a cluster a redelivery of
// the same rows can be the identical block the replicas drop, which
// TestCluster_RetriedBlockDeduplicated checks instead.
func TestCluster(t *testing.T) {
	chtest.UseCluster(t)
	for name, test := range map[string]func(*testing.T){
		"Migrate_Idempotent":                 TestMigrate_Idempotent,
		"WriteEvents_RoundTrip":              TestWriteEvents_RoundTrip,
		"WriteEvents_Refused":                TestWriteEvents_Refused,
		"WriteColourUpdates_CurrentAndHist":  TestWriteColourUpdates_CurrentAndHistory,
		"WriteColourUpdates_TimesAreInstant": TestWriteColourUpdates_TimesAreInstants,
		"WriteColourUpdates_Refused":         TestWriteColourUpdates_Refused,
		"WriteExposures":                     TestWriteExposures,
		"WriteJourneys":                      TestWriteJourneys,
		"Admin_CountsAndDrop":                TestAdmin_CountsAndDrop,
		"DropExpired":                        TestDropExpired,
		"DemoDatabase":                       TestDemoDatabase,
		"WriteDesignationsAndPolicies":       TestWriteDesignationsAndPolicies,
		"Rollups":                            TestRollups,
		"WriteOverrideAudit":                 TestWriteOverrideAudit,
		"WriteOverrideAlerts":                TestWriteOverrideAlerts,
		"DropExpired_OverrideAudit":          TestDropExpired_OverrideAudit,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each has its own database; ON CLUSTER DDL mostly waits
			test(t)
		})
	}
}

// nodes returns a connection to each server of the cluster, found in
// system.clusters.
func nodes(t *testing.T, c *clickhouse.Client) []ch.Conn {
	t.Helper()
	rows, err := c.Conn().Query(ctxT(t), "SELECT host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", c.Options().Cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ch.Conn
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			t.Fatal(err)
		}
		conn, err := ch.Open(&ch.Options{Addr: []string{fmt.Sprintf("%s:%d", host, port)}, Auth: ch.Auth{Database: c.Options().Database}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		out = append(out, conn)
	}
	if len(out) != 2 {
		t.Fatalf("cluster has %d servers, want 2", len(out))
	}
	return out
}

func nodeCount(t *testing.T, conn ch.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctxT(t), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestCluster_Layout: every server has each table as a Distributed table over
// a Replicated NAME_local; schema_migrations is whole on every server; a
// person's rows live on one shard and both shards hold some.
func TestCluster_Layout(t *testing.T) {
	c := openCluster(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(21, 22))
	who := people(r, 40)
	if err := c.WriteEvents(ctx, nil, genEvents(r, who, 2000, scoring.MustTime("2020-03-01T00:00:00Z"))); err != nil {
		t.Fatal(err)
	}
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	db := c.Options().Database
	total := uint64(0)
	shardOf := map[string]int{}
	for i, conn := range nodes(t, c) {
		for _, table := range []string{"events", "colour_changes", "colours_current", "exposures", "return_journeys"} {
			var engine, local string
			if err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&engine); err != nil || engine != "Distributed" {
				t.Errorf("node %d: %s engine %q (%v), want Distributed", i+1, table, engine, err)
			}
			if err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", db, table+"_local").Scan(&local); err != nil || local[:10] != "Replicated" {
				t.Errorf("node %d: %s_local engine %q (%v), want a Replicated engine", i+1, table, local, err)
			}
		}
		if n := nodeCount(t, conn, "SELECT count() FROM system.columns WHERE database = ? AND table = 'events' AND comment != ''", db); n == 0 {
			t.Errorf("node %d: events has no column comments", i+1)
		}
		if n := nodeCount(t, conn, "SELECT uniqExact(version) FROM schema_migrations"); n != uint64(len(ms)) {
			t.Errorf("node %d: schema_migrations has %d versions, want %d", i+1, n, len(ms))
		}
		rows := nodeCount(t, conn, "SELECT count() FROM events_local")
		if rows == 0 {
			t.Errorf("node %d: its shard holds no events", i+1)
		}
		total += rows
		// Each person's rows are on one shard: no key is on both.
		var keys []string
		if err := conn.QueryRow(ctx, "SELECT groupUniqArray(toString(person_key)) FROM events_local").Scan(&keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if shardOf[k] != 0 {
				t.Errorf("person %s has events on nodes %d and %d", k, shardOf[k], i+1)
			}
			shardOf[k] = i + 1
		}
	}
	if len(shardOf) != len(who) {
		t.Errorf("%d persons found on the shards, want %d", len(shardOf), len(who))
	}
	if n := count(t, c, "SELECT count() FROM events"); n != total || n != 2000 {
		t.Errorf("events through Distributed %d, shards together %d, want 2000", n, total)
	}
}

// TestCluster_RetriedBlockDeduplicated: an insert retried with the same rows
// and the same inserted_at is the identical block, and the shards' replicas
// drop it; a redelivery in another block (another inserted_at) is stored and
// merges away by ReplacingMergeTree, as on one server.
func TestCluster_RetriedBlockDeduplicated(t *testing.T) {
	at := time.Date(2020, 3, 20, 8, 0, 0, 0, time.UTC)
	c := openCluster(t, func(o *clickhouse.Options) { o.Now = func() time.Time { return at } })
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(3, 4))
	evs := genEvents(r, people(r, 20), 1000, scoring.MustTime("2020-03-01T00:00:00Z"))
	for range 2 { // the same block twice
		if err := c.WriteEvents(ctx, nil, evs); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() FROM events"); n != 1000 {
		t.Fatalf("after a retried block: %d rows, want 1000 (the retry dropped)", n)
	}
	if n := count(t, c, "SELECT count() FROM events WHERE inserted_at = ?", at); n != 1000 {
		t.Errorf("%d rows stamped with the client's inserted_at, want 1000", n)
	}
	at = at.Add(time.Minute) // a redelivery later: another block
	if err := c.WriteEvents(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT count() FROM events"); n != 2000 {
		t.Fatalf("after a redelivery: %d rows, want 2000", n)
	}
	if n := count(t, c, "SELECT count() FROM events FINAL"); n != 1000 {
		t.Errorf("with FINAL: %d rows, want 1000", n)
	}
	optimizeFinal(t, c, fmt.Sprintf("OPTIMIZE TABLE `%s`.events_local ON CLUSTER %s FINAL", c.Options().Database, c.Options().Cluster),
		"SELECT count() FROM events", 1000)
}

// openCluster opens a Client on a fresh database of the test cluster.
func openCluster(t *testing.T, mod func(*clickhouse.Options)) *clickhouse.Client {
	t.Helper()
	o := chtest.StartCluster(t)
	o.Logger = slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := clickhouse.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
