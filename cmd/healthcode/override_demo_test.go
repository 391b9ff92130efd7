package main

import (
	"context"
	"regexp"
	"testing"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// TestRunSimulate_OverrideBurstRaisesOneAlert: the demo's province includes a
// small burst of overrides to red by one officer, which raises exactly one
// alert under the shipped domestic policy, in override_alerts, the counter
// and the summary.
func TestRunSimulate_OverrideBurstRaisesOneAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("demo run skipped in -short mode")
	}
	o := chtest.Start(t)
	o.Database += "_demo"
	t.Cleanup(func() { clickhouse.DropDatabase(context.Background(), o) })
	out, err := run(t, runCmd, "--simulate", "--people", "3000", "--days", "3", "--checkins-per-day", "1", "--data-dir", t.TempDir(),
		"--clickhouse", o.Addr, "--clickhouse-db", o.Database, "--pseudonym-key", "demo-test-key", "--broker-port", "0")
	if err != nil {
		t.Fatalf("run --simulate: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`override alerts +1 +\(override_alerts: officer-red 1; healthcode_override_alerts_total 1\)`).MatchString(out) {
		t.Errorf("summary does not show one officer-red alert:\n%s", out)
	}
	if !regexp.MustCompile(`official overrides +\d+ accepted, 5 held for a second approver`).MatchString(out) {
		t.Errorf("summary does not show the 5 held overrides of the burst:\n%s", out)
	}
}
