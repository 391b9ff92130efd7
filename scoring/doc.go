// Package scoring owns a person's epidemiological facts, the policy engine that
// turns facts into a colour, the per-partition timers that make colours expire on
// time, the area-risk table (Areas), and the marks the engine raises for contact
// tracing (Mark). It knows nothing of places: contact tracing is scoring/tracing,
// which imports this package and is never imported by it.
//
// It is pure: no Kafka, no ClickHouse, no network, no wall clock. Every decision is
// a function of (facts, policy, now), so a replay with the same inputs and clock
// gives the same output. It must not import pipeline, sinks, sources or any client
// library.
package scoring
