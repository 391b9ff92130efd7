// Package pipeline owns the stages of healthcode (ingest, scoring, tracing,
// sinks), the topology that wires them together, their hubs of reference
// data (area designations, the policy in force), and the checkpoints that let
// a partition's state move between processes.
//
// It talks to Kafka only through the toolkit in healthcode/pipeline/kafka, and
// embeds a broker through healthcode/pipeline/broker; neither imports it. The
// formats of the internal topics live in healthcode/pipeline/wire. scoring,
// sources and sinks must not import pipeline.
//
// Delivery is at-least-once with idempotent effects: a consumer commits an
// offset only after the effects of every message before it are acknowledged,
// and producers wait for all in-sync replicas.
package pipeline
