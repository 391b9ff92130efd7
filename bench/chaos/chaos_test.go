package chaos

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// holdsToday are the comparisons the smoke requires. The others (every
// version's content, colour_changes, colours_current) can still differ
// between two uninterrupted runs (`chaos --control`) in a few persons: on the
// event clock a person's first version is dated by the first of their events
// applied, and a person's events from two topics that two ingest batches
// read can come in either order (docs/contract.md, "Clock"; 3 of 5,000
// persons in a control run, from 3,708 when versions were dated by the
// partition's clock). `make chaos` judges them all; the smoke logs them.
var holdsToday = []string{
	"versions reused with another content",
	"persons missing a version",
	"final colour and reasons per person",
	"`exposures` FINAL",
	"`events` FINAL",
}

// TestSmoke runs the harness at its smoke size against the binary built from
// this tree: a kill, a short ClickHouse outage, both broker restarts and one
// of three workers killed, then the comparison. It asserts what the harness
// found (every fault recovered, no process exited on its own, nothing lost
// or changed in the comparisons above), never how fast: recovery times are
// in the report it logs.
//
// It runs in make test (about 100 s here); -short skips it.
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
	if errors.Is(err, ErrNoBroker) {
		t.Skip(err) // until `healthcode broker` is on this branch
	}
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "chaos.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos.md:\n%s", md)
	if len(r.Faults) != o.Kills+5 {
		t.Errorf("%d faults injected, want %d", len(r.Faults), o.Kills+5)
	}
	for _, f := range r.Faults {
		if f.rec.err != nil {
			t.Errorf("fault %d (%s): %v", f.n, f.kind, f.rec.err)
		}
	}
	for _, c := range r.Crashes {
		t.Errorf("a process exited on its own: %s", c)
	}
	for _, c := range r.Checks {
		required := false
		for _, h := range holdsToday {
			required = required || strings.HasPrefix(c.what, h)
		}
		switch {
		case !c.ok && required:
			t.Errorf("differs: %s: %s vs %s: %s", c.what, c.ref, c.chaos, c.detail)
		case !c.ok:
			t.Logf("differs (also without faults today): %s: %s vs %s", c.what, c.ref, c.chaos)
		}
	}
}
