// Package pagetest gives the tests of pages the binary serves (the citizen
// page of sinks/codes, the map of sinks/clickhouse/mapview) Debian's tools:
// headless chromium, and a directory for the screenshots worth keeping. A
// missing tool skips the test, but fails it in CI (env CI set), where make
// tools installs it.
//
// pagetest is for tests only; it imports testing and must not be imported by
// production code.
package pagetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NeedTool returns the path of a Debian tool: missing, the test skips, but
// fails in CI.
func NeedTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (make tools installs chromium zbar-tools python3-cbor2 python3-cryptography kcat): %v", name, err)
		}
		t.Skipf("%s is missing: %v", name, err)
	}
	return p
}

// Chromium runs Debian's chromium headless with args and returns stdout.
func Chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := NeedTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// ArtifactDir is where tests keep files worth looking at afterwards:
// $HEALTHCODE_TEST_ARTIFACTS, or bench/out/test-artifacts (gitignored) of
// the module the test runs in.
func ArtifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HEALTHCODE_TEST_ARTIFACTS")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "bench", "out", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// moduleRoot is the nearest directory above the working directory (a test's
// package directory) that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", os.ErrNotExist
		}
		dir = up
	}
}
