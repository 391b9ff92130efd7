// Package kafka is healthcode's Kafka toolkit: one client configuration
// (Config, built into a Client by New) from which every producer, reader,
// consumer group, admin call, replay, follower and lag query is built, so that
// all of them share the brokers, client id, dialer, TLS and SASL settings,
// timeouts, fetch and batch sizes and the throttled error logger.
//
// It wraps segmentio/kafka-go and re-exports the few kafka-go types its callers
// handle (Message, Writer, Reader, Balancer, Header) as aliases, so that a caller
// needs no second Kafka import.
//
// It knows nothing of the pipeline: no topic names, stages, sources or scoring.
// It must not import healthcode/pipeline or anything above it; the embedded
// broker lives in healthcode/pipeline/broker.
package kafka
