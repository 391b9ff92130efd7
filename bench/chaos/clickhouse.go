package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// chServer is the harness's own clickhouse-server: a free loopback port, its
// data in the work directory, native protocol only. Stopping and starting it
// again keeps its data (the outage fault). It is never the developer's server.
type chServer struct {
	addr string
	p    *proc
}

// chConfig is a self-contained server config (the shape chtest uses; the
// <yandex> root is what 18.16 needs and current releases accept).
const chConfig = `<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{dir}/clickhouse-server.log</log><errorlog>{dir}/clickhouse-server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{port}</tcp_port>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/data/tmp/</tmp_path>
    <user_files_path>{dir}/data/user_files/</user_files_path>
    <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`

const chUsers = `<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
`

// errNoClickHouse says no clickhouse-server binary was found.
var errNoClickHouse = errors.New("no clickhouse-server binary (looked in PATH, /usr/sbin, /usr/bin; make clickhouse installs it)")

func findClickHouse() (string, []string, error) {
	for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil, nil
		}
	}
	for _, p := range []string{"clickhouse", "/usr/bin/clickhouse"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, []string{"server"}, nil
		}
	}
	return "", nil, errNoClickHouse
}

// startClickHouse writes the config into dir and starts the server.
func startClickHouse(dir string, deadline time.Duration, lg *slog.Logger) (*chServer, error) {
	bin, args, err := findClickHouse()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("{dir}", dir, "{port}", fmt.Sprint(port)).Replace(chConfig)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(chUsers), 0o644); err != nil {
		return nil, err
	}
	s := &chServer{addr: loopback(port)}
	s.p = newProc("clickhouse", dir, bin, append(args, "--config-file="+filepath.Join(dir, "config.xml")), nil, lg)
	if err := s.start(deadline); err != nil {
		s.p.close()
		return nil, err
	}
	return s, nil
}

// start starts the (stopped) server and waits until it answers.
func (s *chServer) start(deadline time.Duration) error {
	if err := s.p.start(); err != nil {
		return err
	}
	return waitFor(deadline, "clickhouse at "+s.addr, s.ping)
}

func (s *chServer) ping() error {
	conn, err := ch.Open(&ch.Options{Addr: []string{s.addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// stop stops the server cleanly (SIGTERM), keeping its data.
func (s *chServer) stop() error {
	_, err := s.p.term(30 * time.Second)
	return err
}
