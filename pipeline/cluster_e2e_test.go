package pipeline_test

import (
	"testing"

	"healthcode/sinks/clickhouse/chtest"
)

// TestEndToEnd_Cluster runs the end-to-end scenario (TestEndToEnd, unchanged)
// with ClickHouse on the test cluster: two shards of Replicated tables under
// Distributed ones, ZooKeeper, DDL ON CLUSTER (see chtest and
// docs/clickhouse.md). The pipeline's sink writes through the Distributed
// tables and the checks read colours_current, colour_changes and events FINAL
// through them.
func TestEndToEnd_Cluster(t *testing.T) {
	chtest.UseCluster(t)
	if o := chtest.Start(t); o.Cluster != chtest.ClusterName {
		t.Fatalf("chtest.Start under UseCluster gave cluster %q, want %q", o.Cluster, chtest.ClusterName)
	}
	TestEndToEnd(t)
}
