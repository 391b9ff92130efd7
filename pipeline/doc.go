// Package pipeline owns the stages of healthcode (ingest, scoring, sinks), the
// topology that wires them together, the Kafka consumer and producer plumbing
// they stand on, and the checkpoints that let a partition's state move between
// processes.
//
// It is the only package that talks to Kafka (through segmentio/kafka-go; the
// embedded broker is franz-go's kfake). The formats of the internal topics live
// in pipeline/wire. scoring, sources and sinks must not import pipeline.
//
// Delivery is at-least-once with idempotent effects: a consumer commits an
// offset only after the effects of every message before it are acknowledged,
// and producers wait for all in-sync replicas.
package pipeline
