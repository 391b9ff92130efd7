// Package sim generates a synthetic province for demos, benchmarks and
// detection scoring: people with generated identity documents, venues on real
// coordinates around Hangzhou and Ningbo, daily venue check-ins, declarations,
// travel, vaccinations, PCR campaigns, antigen tests, flights from abroad, area
// risk designations and official overrides, plus an outbreak that spreads by
// co-presence at venues. Run writes every upstream message as the JSON that
// docs/contract.md specifies, in publication-time order, and can write the ground
// truth of who infected whom (by person key, never by raw identifier) and the
// contact-tracing truth: who was a close contact, companion or secondary
// contact of whom by the definitions of docs/policies.md over the messages emitted, and
// the journey truth: which returnee declared their return journey and the
// status their journey must have at the end (returnees.go).
//
// Nothing here is real personal data: every document number is generated (a
// resident ID has a valid GB 11643 check character but belongs to nobody).
//
// The simulator streams: its memory is bounded by per-person and per-venue
// state and by the messages in flight (published later than they happen), not
// by the number of messages (the contact-tracing truth, when asked for, keeps
// the presences of the run). It imports sources for the stream names, scoring
// and policies for the contact definitions it follows (Config.Policy), and
// must not import pipeline, sinks or any Kafka or ClickHouse client.
package sim
