// Package chaos is the fault harness behind `make chaos`: it runs a simulated
// province through the real healthcode binary (a standalone `healthcode
// broker`, `healthcode run --brokers` workers and a private clickhouse-server,
// all on loopback with free ports and temporary directories), once
// uninterrupted and once under faults (SIGKILLs of the pipeline, a ClickHouse
// outage, broker restarts, one of three workers killed), measures how long
// each fault takes to recover from, compares everything the pipeline produced
// against the uninterrupted run, and writes bench/out/chaos.md.
//
// It owns the processes it starts and nothing else: it never talks to the
// developer's ClickHouse or broker. It may import every package of the
// module; nothing imports it but its command (bench/chaos/cmd) and its tests.
package chaos
