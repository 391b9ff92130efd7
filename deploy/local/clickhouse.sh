#!/usr/bin/env bash
# clickhouse.sh: run a local ClickHouse for healthcode, on loopback only, with all
# its data under one directory.
#
#   deploy/local/clickhouse.sh start|stop|status [DATA_DIR]
#
# DATA_DIR defaults to data/clickhouse under the repository root. Ports come from
# CH_TCP_PORT (native protocol, default 9000) and CH_HTTP_PORT (default 8123); the
# interserver (replication) port is disabled.
#
# start installs Debian's clickhouse-server and clickhouse-client if no server
# binary is found, copies /etc/clickhouse-server/{config,users}.xml into
# DATA_DIR/etc, overrides paths, ports and listen address in
# DATA_DIR/etc/config.d/healthcode.xml, starts the server as a daemon with its pid
# in DATA_DIR/clickhouse-server.pid and waits (up to 60 s) until it answers.
# Running start again while the server answers does nothing.
# stop terminates the server named by the pid file. status exits 0 if it runs
# and answers, 3 if not.
set -euo pipefail

usage() {
	echo "usage: $0 start|stop|status [DATA_DIR]" >&2
	exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
cmd=$1
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data_dir=${2:-$repo_root/data/clickhouse}
tcp_port=${CH_TCP_PORT:-9000}
http_port=${CH_HTTP_PORT:-8123}
ready_timeout=60

for p in "$tcp_port" "$http_port"; do
	[[ $p =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) || { echo "clickhouse.sh: bad port $p" >&2; exit 2; }
done

data_dir=$(realpath -m -- "$data_dir")
pid_file=$data_dir/clickhouse-server.pid
etc_dir=$data_dir/etc
log_dir=$data_dir/log

# find_server prints the command that runs the server: clickhouse-server, or the
# single clickhouse binary of current releases with "server".
find_server() {
	local p
	for p in /usr/bin/clickhouse-server /usr/sbin/clickhouse-server "$(command -v clickhouse-server || true)"; do
		[[ -n $p && -x $p ]] && { echo "$p"; return 0; }
	done
	for p in /usr/bin/clickhouse "$(command -v clickhouse || true)"; do
		[[ -n $p && -x $p ]] && { echo "$p server"; return 0; }
	done
	return 1
}

# client runs clickhouse-client (or "clickhouse client") against our port.
client() {
	if command -v clickhouse-client >/dev/null; then
		clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@"
	else
		clickhouse client --host 127.0.0.1 --port "$tcp_port" "$@"
	fi
}

answers() {
	client -q 'SELECT 1' >/dev/null 2>&1
}

# running_pid prints the pid from the pid file if that process is alive and is a
# ClickHouse server (not an unrelated process that reused the pid).
running_pid() {
	local pid
	[[ -f $pid_file ]] || return 1
	pid=$(<"$pid_file")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	grep -q clickhouse "/proc/$pid/cmdline" 2>/dev/null || return 1
	echo "$pid"
}

install_server() {
	local sudo=
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	fi
	echo "clickhouse.sh: installing clickhouse-server and clickhouse-client (apt)" >&2
	$sudo apt-get update
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client
}

write_config() {
	local src=/etc/clickhouse-server
	mkdir -p "$etc_dir/config.d" "$log_dir" "$data_dir/db/tmp" "$data_dir/db/user_files" "$data_dir/db/format_schemas"
	cp "$src/config.xml" "$etc_dir/config.xml"
	cp "$src/users.xml" "$etc_dir/users.xml"
	# Only our config.d is read (it sits next to the copied config.xml); the
	# packaged /etc/clickhouse-server/config.d is not. The root element is <yandex> on 18.16 and <clickhouse> on current releases;
	# the override must use the same one.
	local root=yandex
	grep -q '<clickhouse>' "$etc_dir/config.xml" && root=clickhouse
	cat >"$etc_dir/config.d/healthcode.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by deploy/local/clickhouse.sh; rewritten on every start. -->
<$root>
    <logger>
        <log>$log_dir/clickhouse-server.log</log>
        <errorlog>$log_dir/clickhouse-server.err.log</errorlog>
    </logger>
    <listen_host replace="replace">127.0.0.1</listen_host>
    <tcp_port>$tcp_port</tcp_port>
    <http_port>$http_port</http_port>
    <interserver_http_port remove="1"/>
    <path>$data_dir/db/</path>
    <tmp_path>$data_dir/db/tmp/</tmp_path>
    <user_files_path>$data_dir/db/user_files/</user_files_path>
    <format_schema_path>$data_dir/db/format_schemas/</format_schema_path>
</$root>
EOF
}

start() {
	local pid server i
	if pid=$(running_pid); then
		for ((i = 0; i < ready_timeout * 5; i++)); do
			answers && { echo "clickhouse already running (pid $pid): tcp://127.0.0.1:$tcp_port http://127.0.0.1:$http_port data $data_dir"; return 0; }
			sleep 0.2
		done
		echo "clickhouse.sh: server pid $pid runs but does not answer on 127.0.0.1:$tcp_port" >&2
		return 1
	fi
	rm -f "$pid_file"
	if ! server=$(find_server); then
		install_server
		server=$(find_server) || { echo "clickhouse.sh: no clickhouse-server after install" >&2; return 1; }
	fi
	if answers; then
		echo "clickhouse.sh: something else already answers on 127.0.0.1:$tcp_port; set CH_TCP_PORT" >&2
		return 1
	fi
	write_config
	# shellcheck disable=SC2086 # $server may be "clickhouse server"
	(cd "$data_dir" && $server --config-file="$etc_dir/config.xml" --pid-file="$pid_file" --daemon) \
		>>"$log_dir/stdout.log" 2>&1
	for ((i = 0; i < ready_timeout * 5; i++)); do
		if answers && pid=$(running_pid); then
			echo "clickhouse running (pid $pid): tcp://127.0.0.1:$tcp_port http://127.0.0.1:$http_port data $data_dir"
			return 0
		fi
		sleep 0.2
	done
	echo "clickhouse.sh: server did not answer on 127.0.0.1:$tcp_port within ${ready_timeout}s; log tail:" >&2
	tail -n 20 "$log_dir/clickhouse-server.err.log" "$log_dir/stdout.log" >&2 2>/dev/null || true
	return 1
}

stop() {
	local pid i
	if ! pid=$(running_pid); then
		rm -f "$pid_file"
		echo "clickhouse not running"
		return 0
	fi
	kill -TERM "$pid"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "clickhouse.sh: pid $pid still running after 30 s; killing" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pid_file"
	echo "clickhouse stopped (pid $pid)"
}

status() {
	local pid
	if pid=$(running_pid) && answers; then
		echo "clickhouse running (pid $pid): tcp://127.0.0.1:$tcp_port http://127.0.0.1:$http_port data $data_dir"
		return 0
	fi
	if pid=$(running_pid); then
		echo "clickhouse pid $pid runs but does not answer on 127.0.0.1:$tcp_port"
	else
		echo "clickhouse not running"
	fi
	return 3
}

case $cmd in
start) start ;;
stop) stop ;;
status) status ;;
*) usage ;;
esac
