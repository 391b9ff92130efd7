// Package scoring owns a person's epidemiological facts, the policy engine that
// turns facts into a colour, the per-partition timers that make colours expire on
// time, and the co-presence join used by contact tracing (Tracer).
//
// It is pure: no Kafka, no ClickHouse, no network, no wall clock. Every decision is
// a function of (facts, policy, now), so a replay with the same inputs and clock
// gives the same output. It must not import pipeline, sinks, sources or any client
// library.
package scoring
