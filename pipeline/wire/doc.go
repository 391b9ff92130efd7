// Package wire owns the binary formats of the pipeline's internal topics:
// hc.person-events, whose messages are Apache Arrow IPC streams holding many
// scoring.Events each, and hc.area-risk, whose messages are single area risk
// designations.
//
// Every message starts with a four-byte header: a three-byte magic naming the
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
