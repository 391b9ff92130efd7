// Package clickhouse is the ClickHouse sink: the analysts' schema (versioned SQL
// migrations embedded from migrations/), batched columnar writers for person
// events and colour updates, the read-backs behind `healthcode explain`, and
// retention by whole monthly partitions.
//
// It speaks the native protocol through clickhouse-go v2 (clickhouse.Open and
// driver.Conn). Every statement must run on ClickHouse 18.16 (what Debian ships
// and what the tests start, see chtest) and on current releases: no TTL clause,
// no DateTime64, no LowCardinality, FINAL only on Replacing engines, and every
// INSERT names its columns (PrepareBatch needs the list on 18.16).
//
// Tables hold UTC instants in DateTime('UTC') columns, where 0
// (1970-01-01 00:00:00) means "absent"; person_key is the 32-character hex
// pseudonymous key, never a raw identifier. Duplicate deliveries are absorbed by
// ReplacingMergeTree engines; read with FINAL or argMax(..., version).
//
// A writer never lets one refused row fail its batch: rows ClickHouse (or the
// driver, against the column types the server declares) refuses are isolated
// by bisection and reported in a *RefusedError, and the rest is written; any
// other error means the server cannot take the batch now (bisect.go).
//
// With Options.Cluster set, the same tables are spread over a cluster:
// Replicated NAME_local tables under Distributed tables of the original names,
// created ON CLUSTER, written with synchronous distributed inserts whose
// retries the replicas deduplicate (cluster.go, stamp.go, docs/clickhouse.md).
//
// The package imports scoring and sinks for their types only; it must not import
// pipeline or any Kafka client.
package clickhouse
