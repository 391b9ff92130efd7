package chtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// ClusterName is the test cluster's name in the servers' <remote_servers>.
const ClusterName = "hc_test"

// The test cluster is Debian's zookeeper and two clickhouse-servers, each
// one shard of ClusterName with one replica. Two shards rather than one shard
// of two replicas: what the sink's cluster mode must get right is sharding
// (a person's rows on one shard, so FINAL and ReplacingMergeTree merges see
// them together; argMax merged across shards; DDL and retention reaching every
// server), and a Replicated table deduplicates retried blocks through
// ZooKeeper whether or not it has a second replica. Replication between
// replicas is ClickHouse's own business and needs no schema change: a
// production cluster lists more replicas per shard (see docs/clickhouse.md).

// errNoZooKeeper says Debian's zookeeper (or java) is missing.
var errNoZooKeeper = errors.New("no zookeeper (apt-get install zookeeper: /usr/share/java/zookeeper.jar and java)")

// zkJar is Debian's ZooKeeper jar; its manifest names its dependencies.
const zkJar = "/usr/share/java/zookeeper.jar"

// cluster is a running test cluster.
type cluster struct {
	dir   string
	zk    *server
	nodes []*server
}

// clusterMemberXML is a cluster member's extra config: interserver port (for
// replication fetches), ZooKeeper, the cluster, its macros and the
// distributed DDL queue. Placeholders: {interserver_port}, {zk_port},
// {shards}, {shard}.
const clusterMemberXML = `    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <zookeeper>
        <node><host>127.0.0.1</host><port>{zk_port}</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <remote_servers>
        <` + ClusterName + `>
{shards}        </` + ClusterName + `>
    </remote_servers>
    <macros>
        <shard>{shard}</shard>
        <replica>r1</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
`

// startCluster starts ZooKeeper and two servers in a new temporary directory.
// skip reports that a binary is missing.
func startCluster() (c *cluster, skip bool, err error) {
	bin, args, err := findBinary()
	if err != nil {
		return nil, true, err
	}
	java, err := exec.LookPath("java")
	if _, serr := os.Stat(zkJar); err != nil || serr != nil {
		return nil, true, errNoZooKeeper
	}
	// Ports found free may be taken before the processes bind them: try a few.
	for attempt := 1; ; attempt++ {
		c, err = startClusterOnce(bin, args, java)
		if err == nil || attempt == 3 {
			return c, false, err
		}
	}
}

func startClusterOnce(bin string, args []string, java string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "chtest-cluster-")
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	c := &cluster{dir: dir}
	fail := func(err error) (*cluster, error) {
		c.stop()
		return nil, err
	}
	ports := make([]int, 5) // zookeeper, then tcp and interserver of each node
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return fail(fmt.Errorf("start cluster: %w", err))
		}
	}
	if c.zk, err = startZooKeeper(java, filepath.Join(dir, "zk"), ports[0]); err != nil {
		return fail(err)
	}
	var shards strings.Builder
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&shards, "            <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>%d</port></replica></shard>\n", ports[1+2*i])
	}
	for i := 0; i < 2; i++ {
		ndir := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			return fail(fmt.Errorf("start cluster: %w", err))
		}
		extra := strings.NewReplacer("{interserver_port}", fmt.Sprint(ports[2+2*i]), "{zk_port}", fmt.Sprint(ports[0]),
			"{shards}", shards.String(), "{shard}", fmt.Sprint(i+1)).Replace(clusterMemberXML)
		conf, err := writeConfig(ndir, ports[1+2*i], extra)
		if err != nil {
			return fail(fmt.Errorf("start cluster: %w", err))
		}
		s, err := launch(ndir, ports[1+2*i], bin, append(args, "--config-file="+conf)...)
		if err != nil {
			return fail(err)
		}
		c.nodes = append(c.nodes, s)
		if err := s.waitReady(); err != nil {
			return fail(err)
		}
		if i == 0 {
			// Tests send ON CLUSTER queries to the first server, whose DDL
			// worker must be connected first: 18.16 crashes on a query queued
			// before (a null pointer in zkutil::ZooKeeper::createImpl). The
			// worker creates the queue when it connects, and only this server
			// runs yet, so the queue's existence says it is connected.
			if err := waitDDLQueue(s); err != nil {
				return fail(err)
			}
		}
	}
	return c, nil
}

// waitDDLQueue waits until the server sees the distributed DDL queue in
// ZooKeeper.
func waitDDLQueue(s *server) error {
	conn, err := ch.Open(&ch.Options{Addr: []string{s.addr}, DialTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("clickhouse at %s: %w", s.addr, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue' AND name = 'ddl'").Scan(&n)
		cancel()
		if err == nil && n == 1 {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("clickhouse at %s exited (%v) before its DDL worker connected: %s", s.addr, s.waitErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse at %s: no distributed DDL queue after %s (%v): %s", s.addr, readyTimeout, err, s.logTail())
		}
	}
}

// startZooKeeper runs a standalone ZooKeeper in the foreground, its data in
// dir, on 127.0.0.1:port, and waits until it serves.
func startZooKeeper(java, dir string, port int) (*server, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\nmaxClientCnxns=0\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	s, err := launch(dir, port, java, "-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.jmx.log4j.disable=true",
		"-cp", zkJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(readyTimeout)
	for !zkServing(s.addr) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("zookeeper at %s exited (%v) before answering: %s", s.addr, s.waitErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("zookeeper at %s not ready after %s: %s", s.addr, readyTimeout, s.logTail())
		}
	}
	return s, nil
}

// zkServing reports whether ZooKeeper at addr serves requests: its "srvr"
// answer names its mode. ("ruok" says imok before it serves, and an 18.16
// server whose first session fails may crash later.)
func zkServing(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(conn)
	return strings.Contains(string(b), "Mode: ")
}

// stop stops the servers, then ZooKeeper, and removes the directory.
func (c *cluster) stop() error {
	var errs []error
	for _, s := range c.nodes {
		errs = append(errs, s.stop())
	}
	if c.zk != nil {
		errs = append(errs, c.zk.stop())
	}
	if os.Getenv("CHTEST_KEEP") != "" {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("stop cluster: %w", err))
	}
	return errors.Join(errs...)
}
