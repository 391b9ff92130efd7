// Package wire owns the formats of the pipeline's internal topics:
// hc.person-events (and hc.presence), whose messages are Apache Arrow IPC
// streams holding many scoring.Events each; hc.area-risk, whose messages are
// single area risk designations; the progress marker of the scoring changelog
// (hc.scoring-state); the policy records of hc.policy (a policy document
// under the key "policy", validated by scoring.ParsePolicy); and the records
// of hc.overrides, decoded overrides and clock ticks for the override guard
// (override.go).
//
// Every binary message but the changelog marker (see EncodeMarker) starts with a four-byte header: a three-byte magic naming the
// format and a version byte. A decoder refuses a magic or version it does not
// know, so a format can change incompatibly by bumping the version; readers are
// upgraded before writers.
//
// Decoders read bytes from Kafka and treat them as hostile: malformed input gives
// an error, never a panic, and never an allocation larger than a small multiple
// of the input. Decoded strings are copies: nothing returned aliases the input.
//
// The package imports scoring for its types and nothing of Kafka.
package wire
