package bench

import (
	"context"
	"log/slog"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// peerKeys are the figures the peer section always reports.
var peerKeys = []string{"healthcode_ingest_sink_events_per_sec", "peer_benthos_events_per_sec", "peer_benthos_ratio", "peer_benthos_rows"}

// peerOptions returns the peer's options for a test against ch: ClickHouse's
// HTTP port from CH_HTTP_PORT (deploy/local/clickhouse.sh's setting) if set.
func peerOptions(ch clickhouse.Options) PeerOptions {
	var po PeerOptions
	if port := os.Getenv("CH_HTTP_PORT"); port != "" {
		host, _, err := net.SplitHostPort(ch.Addr)
		if err != nil {
			host = "127.0.0.1"
		}
		po.HTTP = net.JoinHostPort(host, port)
	}
	return po
}

// peerUnavailable returns why the peer section cannot run here, or nil. In
// CI (CI set) a missing tool fails the test instead.
func peerUnavailable(t *testing.T, o *Options) error {
	t.Helper()
	oo := *o
	oo.SetDefaults()
	err := PeerReady(context.Background(), &oo)
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("%v (CI: .ci/run installs kcat, make starts ClickHouse with its HTTP port)", err)
	}
	return err
}

// TestPeer_Smoke runs the peer section at a smoke size against a real
// ClickHouse (its HTTP interface, which the peer inserts through) and checks
// that its figures are there, finite, beside measured baselines, and that
// the peer wrote the rows healthcode wrote. It asserts nothing about speed.
func TestPeer_Smoke(t *testing.T) {
	ch := chtest.Start(t)
	o := &Options{Quick: true, Out: t.TempDir(), ClickHouse: ch, Peer: peerOptions(ch),
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := peerUnavailable(t, o); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := NewReport()
	if err := Peer(ctx, o, r); err != nil {
		t.Fatalf("Peer: %v", err)
	}
	for _, k := range peerKeys {
		if v := r.Value(k); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			t.Errorf("%s = %v: want a finite positive number", k, v)
		}
	}
	for _, f := range r.Figures {
		if f.Baseline == "" || math.IsNaN(f.BaselineValue) || math.IsInf(f.BaselineValue, 0) {
			t.Errorf("%s: baseline %q = %v: want a measured value", f.Key, f.Baseline, f.BaselineValue)
		}
		if f.Key == "peer_benthos_rows" && f.Value != f.BaselineValue {
			t.Errorf("the peer wrote %v rows, healthcode %v, from the same messages", f.Value, f.BaselineValue)
		}
	}
	t.Logf("%s", r.Markdown())
}
