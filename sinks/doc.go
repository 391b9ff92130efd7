// Package sinks owns what leaves the pipeline: the colour-update wire format on
// hc.colour-updates (JSON, docs/contract.md) and, in sinks/clickhouse, the ClickHouse
// schema, migrations and batched writers. It must not import pipeline.
package sinks
