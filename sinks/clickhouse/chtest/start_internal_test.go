package chtest

import (
	"fmt"
	"strings"
	"testing"
)

// recordingTB records Skip and Fatal instead of stopping the test.
type recordingTB struct {
	testing.TB
	skipped, fatal string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recordingTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func TestStart_NoBinary(t *testing.T) {
	env := func(ci string) func(string) string {
		return func(k string) string {
			if k == "CI" {
				return ci
			}
			return ""
		}
	}
	for _, tc := range []struct {
		ci               string
		wantSkip, wantFa bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantFa: true},
	} {
		s := &state{launch: func() (*server, bool, error) { return nil, true, errNoBinary }}
		s.inMain.Store(true)
		tb := &recordingTB{TB: t}
		o := s.start(tb, env(tc.ci))
		if (tb.skipped != "") != tc.wantSkip || (tb.fatal != "") != tc.wantFa {
			t.Errorf("CI=%q: skipped %q, fatal %q; want skip %v, fatal %v", tc.ci, tb.skipped, tb.fatal, tc.wantSkip, tc.wantFa)
		}
		if msg := tb.skipped + tb.fatal; !strings.Contains(msg, "no clickhouse-server binary") {
			t.Errorf("CI=%q: message %q does not say the binary is missing", tc.ci, msg)
		}
		if o.Addr != "" {
			t.Errorf("CI=%q: got options %+v without a server", tc.ci, o)
		}
	}
}

func TestStart_WithoutMain(t *testing.T) {
	var s state // Main not running: a server would outlive the tests
	tb := &recordingTB{TB: t}
	s.start(tb, func(string) string { return "" })
	if !strings.Contains(tb.fatal, "chtest.Main") {
		t.Errorf("fatal %q, want a pointer to chtest.Main", tb.fatal)
	}
}

func TestFindBinary(t *testing.T) {
	bin, args, err := findBinary()
	if err != nil {
		t.Skipf("no binary here: %v", err)
	}
	if !strings.Contains(bin, "clickhouse") || (len(args) > 0 && args[0] != "server") {
		t.Errorf("findBinary = %s %v", bin, args)
	}
}

func TestStartCluster_NoZooKeeper(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		s := &state{launchCluster: func() (*cluster, bool, error) { return nil, true, errNoZooKeeper }}
		s.inMain.Store(true)
		tb := &recordingTB{TB: t}
		o := s.startCluster(tb, func(k string) string {
			if k == "CI" {
				return ci
			}
			return ""
		})
		if ci == "" && tb.skipped == "" || ci != "" && tb.fatal == "" {
			t.Errorf("CI=%q: skipped %q, fatal %q; want a skip outside CI and a failure in CI", ci, tb.skipped, tb.fatal)
		}
		if msg := tb.skipped + tb.fatal; !strings.Contains(msg, "no zookeeper") {
			t.Errorf("CI=%q: message %q does not say zookeeper is missing", ci, msg)
		}
		if o.Addr != "" {
			t.Errorf("CI=%q: got options %+v without a cluster", ci, o)
		}
	}
}

func TestUseCluster_CoversSubtests(t *testing.T) {
	var s state
	s.clustered = map[string]bool{"TestX": true}
	for name, want := range map[string]bool{"TestX": true, "TestX/sub": true, "TestX/sub/deeper": true, "TestXY": false, "TestY/TestX": false} {
		if got := s.usesCluster(name); got != want {
			t.Errorf("usesCluster(%q) = %v, want %v", name, got, want)
		}
	}
}
