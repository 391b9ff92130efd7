package chaos

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke runs the harness at its smoke size against the binary built from
// this tree: two kills, a short ClickHouse outage, both broker restarts and
// one of three workers killed, then the comparison. It asserts what the
// harness found (nothing lost or changed, every fault recovered), never how
// fast: recovery times are in the report it writes and logs.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker, workers and a clickhouse-server")
	}
	if _, _, err := findClickHouse(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "healthcode")
	build := exec.Command("go", "build", "-o", bin, "healthcode/cmd/healthcode")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := Smoke(bin)
	o.WorkDir = filepath.Join(dir, "work")
	o.Out = dir
	o.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "chaos.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos.md:\n%s", md)
	if !r.Passed() {
		t.Fatalf("the run under faults differs from the reference or did not recover: %v", r.Failures)
	}
	if len(r.Faults) != o.Kills+5 {
		t.Errorf("%d faults injected, want %d", len(r.Faults), o.Kills+5)
	}
	for _, c := range r.Checks {
		if !c.ok {
			t.Errorf("differs: %s", c.what)
		}
	}
}
