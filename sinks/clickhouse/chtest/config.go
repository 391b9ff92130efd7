package chtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// configXML is a self-contained server config: native port only (no HTTP,
// no interserver port), loopback only, every path inside the directory, small
// caches. Placeholders: {dir} (absolute, no trailing slash), {tcp_port} and
// {extra} (more top-level elements: a cluster member's, see cluster.go).
// The <yandex> root is what 18.16 needs; current releases accept it too.
const configXML = `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{dir}/log/clickhouse-server.log</log>
        <errorlog>{dir}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
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
{extra}</yandex>
`

// usersXML has the one passwordless "default" user, reachable from loopback.
const usersXML = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
        </default>
    </quotas>
</yandex>
`

// writeConfig writes config.xml and users.xml into dir for a server on
// 127.0.0.1:port, with extra elements in config.xml, and returns the
// config.xml path.
func writeConfig(dir string, port int, extra string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("write clickhouse config: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		return "", fmt.Errorf("write clickhouse config: %w", err)
	}
	conf := strings.NewReplacer("{dir}", dir, "{tcp_port}", fmt.Sprint(port), "{extra}", extra).Replace(configXML)
	path := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("write clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return "", fmt.Errorf("write clickhouse config: %w", err)
	}
	return path, nil
}
