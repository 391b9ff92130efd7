// Package chtest gives tests a real ClickHouse: a private clickhouse-server
// started once per test binary, on a free loopback port with its data in a
// temporary directory, and a fresh database per test.
//
// A package's TestMain calls Main, and each test calls Start:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		c, err := clickhouse.Open(ctx, chtest.Start(t))
//		...
//
// The server starts on the first Start and Main stops it after the tests
// (the server also dies with the test process, through a parent-death signal).
// If HEALTHCODE_CLICKHOUSE_ADDR is set, Start uses that running server instead.
// If no clickhouse-server binary is found, Start skips the test, unless the
// environment variable CI is non-empty: in CI it fails.
//
// StartCluster does the same on a cluster of two servers and a ZooKeeper, and
// UseCluster(t) makes every Start within a test use the cluster, so that an
// existing test runs on it unchanged. CHTEST_KEEP=1 keeps the servers'
// directories (data, logs, config) after the tests, for a post-mortem.
//
// chtest is for tests only; it imports testing and must not be imported by
// production code.
package chtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"healthcode/sinks/clickhouse"
)

// EnvAddr names the environment variable with the host:port of a running
// server to use instead of starting one.
const EnvAddr = "HEALTHCODE_CLICKHOUSE_ADDR"

// state is the test binary's server. It is package-level on purpose: a test
// binary shares one server, and Main, which has no handle but the package,
// must stop it.
type state struct {
	inMain atomic.Bool  // Main is running the tests
	seq    atomic.Int64 // database name counter

	// launch starts the server; nil means startServer. skip reports that
	// the error means "no binary here".
	launch func() (srv *server, skip bool, err error)

	once sync.Once // runs launch
	srv  *server
	err  error // why there is no server
	skip bool  // skip rather than fail, outside CI

	// The cluster, like the server, starts on first use; launchCluster nil
	// means startCluster.
	launchCluster func() (c *cluster, skip bool, err error)
	clusterOnce   sync.Once
	cluster       *cluster
	clusterErr    error
	clusterSkip   bool

	mu        sync.Mutex
	clustered map[string]bool // names of tests whose Start means StartCluster
}

var shared state

// Main runs the package's tests (m.Run), stops the server if a test started one
// and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	shared.inMain.Store(true)
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chtest:", err)
		}
	}
	if shared.cluster != nil {
		if err := shared.cluster.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "chtest:", err)
		}
	}
	os.Exit(code)
}

// StartCluster returns Options for a fresh database (created by
// clickhouse.Open, dropped when the test ends) on the test binary's cluster:
// a ZooKeeper and two servers, each one shard of ClusterName, started on first
// use (see cluster.go). Options.Addr is the first server; Options.Cluster is
// ClusterName. HEALTHCODE_CLICKHOUSE_ADDR does not apply: the cluster is
// always private. Without zookeeper or clickhouse-server, it skips the test
// outside CI and fails it in CI.
func StartCluster(tb testing.TB) clickhouse.Options {
	tb.Helper()
	return shared.startCluster(tb, os.Getenv)
}

// UseCluster makes Start, in this test and its subtests, return what
// StartCluster does: an existing test runs against the cluster unchanged.
func UseCluster(t *testing.T) {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.clustered == nil {
		shared.clustered = map[string]bool{}
	}
	name := t.Name()
	shared.clustered[name] = true
	t.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		delete(shared.clustered, name)
	})
}

// usesCluster reports whether a test of this name, or the test it is a
// subtest of, called UseCluster.
func (s *state) usesCluster(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := name; ; {
		if s.clustered[n] {
			return true
		}
		i := strings.LastIndexByte(n, '/')
		if i < 0 {
			return false
		}
		n = n[:i]
	}
}

func (s *state) startCluster(tb testing.TB, getenv func(string) string) clickhouse.Options {
	tb.Helper()
	if !s.inMain.Load() {
		tb.Fatal("chtest: call chtest.Main(m) from TestMain, so the cluster is stopped after the tests")
		return clickhouse.Options{}
	}
	s.clusterOnce.Do(func() {
		launch := s.launchCluster
		if launch == nil {
			launch = startCluster
		}
		s.cluster, s.clusterSkip, s.clusterErr = launch()
	})
	switch {
	case s.clusterErr != nil && s.clusterSkip && getenv("CI") == "":
		tb.Skipf("chtest: %v (install clickhouse-server and zookeeper)", s.clusterErr)
		return clickhouse.Options{}
	case s.clusterErr != nil:
		tb.Fatalf("chtest: %v", s.clusterErr)
		return clickhouse.Options{}
	}
	return s.freshDatabase(tb, s.cluster.nodes[0].addr, ClusterName)
}

// Start returns Options for a fresh database (created by clickhouse.Open, dropped
// when the test ends) on the test binary's server, starting the server on first
// use.
func Start(tb testing.TB) clickhouse.Options {
	tb.Helper()
	return shared.start(tb, os.Getenv)
}

func (s *state) start(tb testing.TB, getenv func(string) string) clickhouse.Options {
	tb.Helper()
	if s.usesCluster(tb.Name()) {
		return s.startCluster(tb, getenv)
	}
	addr := getenv(EnvAddr)
	if addr == "" {
		if !s.inMain.Load() {
			tb.Fatal("chtest: call chtest.Main(m) from TestMain, so the server is stopped after the tests")
			return clickhouse.Options{}
		}
		s.once.Do(func() {
			launch := s.launch
			if launch == nil {
				launch = startServer
			}
			s.srv, s.skip, s.err = launch()
		})
		switch {
		case s.err != nil && s.skip && getenv("CI") == "":
			tb.Skipf("chtest: %v (install clickhouse-server, or set %s)", s.err, EnvAddr)
			return clickhouse.Options{}
		case s.err != nil:
			tb.Fatalf("chtest: %v", s.err)
			return clickhouse.Options{}
		}
		addr = s.srv.addr
	}
	return s.freshDatabase(tb, addr, "")
}

// freshDatabase names a new database on the server (of the cluster, if
// cluster is set) and drops it when the test ends.
func (s *state) freshDatabase(tb testing.TB, addr, cluster string) clickhouse.Options {
	db := fmt.Sprintf("hctest_%d_%d", os.Getpid(), s.seq.Add(1))
	tb.Cleanup(func() {
		if err := dropDatabase(addr, db, cluster); err != nil {
			tb.Errorf("chtest: %v", err)
		}
	})
	return clickhouse.Options{Addr: addr, Database: db, Cluster: cluster}
}

// dropDatabase drops a test's database (on every server of the cluster, if
// cluster is set).
func dropDatabase(addr, db, cluster string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	defer conn.Close()
	q := "DROP DATABASE IF EXISTS `" + db + "`"
	if cluster != "" {
		q += " ON CLUSTER `" + cluster + "`"
	}
	if err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	return nil
}
