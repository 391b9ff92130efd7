# healthcode — make targets. The quick start is two commands: make run, make test.

GO        ?= go
DATA      ?= $(CURDIR)/data
PEOPLE    ?= 100000
DAYS      ?= 7
BIN       := bin/healthcode
HTTP      ?= 127.0.0.1:8080

.PHONY: run test build vet fmt clickhouse clickhouse-stop zookeeper tools bench chaos clean

build:
	$(GO) build -o $(BIN) ./cmd/healthcode

# A simulated week of a 100k-person province through the whole pipeline:
# local ClickHouse (installed if missing) + embedded Kafka-protocol broker. After the
# summary it serves the metrics and a demo code service on $(HTTP) until Ctrl-C
# (off a terminal it prints the URLs and exits).
run: build clickhouse
	$(BIN) run --simulate --people $(PEOPLE) --days $(DAYS) --data-dir $(DATA) --truth $(DATA)/truth.jsonl --http $(HTTP)

# Every test, against a real ClickHouse (started here) and the Kafka protocol (kfake, in process);
# the cluster tests start their own ZooKeeper and two ClickHouse servers (sinks/clickhouse/chtest).
test: clickhouse zookeeper tools
	gofmt -l . | (! grep .) || (echo "gofmt: the files above need formatting" && exit 1)
	$(GO) vet ./...
	HEALTHCODE_CLICKHOUSE_ADDR=127.0.0.1:$${CH_TCP_PORT:-9000} $(GO) test -count=1 -timeout 20m ./...
	# The Benthos peer (bench's peer section) is a module of its own: ./... above does not reach it.
	cd bench/peer/benthos && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 ./...

# Every benchmark figure beside its baseline, measured in one run (about 4
# minutes here): writes bench/out/report.md, report.json and e2e.cpu.pprof.
# BENCHFLAGS=--quick runs the smoke sizes.
bench: build clickhouse tools
	$(BIN) bench --out bench/out --clickhouse 127.0.0.1:$${CH_TCP_PORT:-9000} $(BENCHFLAGS)

# The fault harness at full size (bench/chaos): a 40,000-person province
# through a standalone broker and workers, once uninterrupted and once under 20
# SIGKILLs, a 60 s ClickHouse outage, broker restarts and a killed worker, on
# its own clickhouse-server (installed if missing, never the one on 9000).
# Writes bench/out/chaos.md; fails if anything differs or a recovery > 10 s.
chaos: build clickhouse
	@command -v clickhouse-server >/dev/null || test -x /usr/sbin/clickhouse-server || test -x /usr/bin/clickhouse || { \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client; }
	HEALTHCODE_CLICKHOUSE_ADDR=127.0.0.1:$${CH_TCP_PORT:-9000} $(GO) test -count=1 -run 'TestSmoke|TestScaleOut_ThreeProcesses' ./bench/chaos/ ./cmd/healthcode/
	$(GO) run ./bench/chaos/cmd --bin $(BIN) --out bench/out $(CHAOSFLAGS)

# The data directory gets a go.mod of its own, which keeps "go ./..." (vet,
# test) out of it: ClickHouse creates and deletes files there while tests run,
# and a walk that meets a vanished file fails.
clickhouse:
	mkdir -p $(DATA)
	test -f $(DATA)/go.mod || printf '// Not code: keeps "go ./..." out of the data directory.\nmodule healthcodedata\n' > $(DATA)/go.mod
	deploy/local/clickhouse.sh start $(DATA)/clickhouse

# Debian's zookeeper (and a JRE), installed if missing: the ClickHouse cluster
# tests run it in the foreground themselves; nothing is started here.
# Debian tools some tests and benchmarks run, installed if missing: chromium
# (headless page tests), zbar-tools (reads QR codes back), python3-cbor2 and
# python3-cryptography (an independent COSE verifier), kcat (the benchmark's
# Benthos peer reads Kafka with it). With CI set, those tests fail without them.
tools:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v zbarimg >/dev/null || missing="$$missing zbar-tools"; \
	/usr/bin/python3 -c 'import cbor2' 2>/dev/null || missing="$$missing python3-cbor2"; \
	/usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing="$$missing python3-cryptography"; \
	if [ -n "$$missing" ]; then \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "make: installing$$missing (apt)"; \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

zookeeper:
	@test -f /usr/share/java/zookeeper.jar || { \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "make: installing zookeeper (apt)"; \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper; }

clickhouse-stop:
	deploy/local/clickhouse.sh stop $(DATA)/clickhouse

clean:
	rm -rf bin
