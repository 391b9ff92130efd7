// Package sources owns the upstream side of the pipeline: it decodes the eight
// JSON message kinds of docs/contract.md, validates them, and pseudonymises people
// into scoring.PersonKey values. Raw identifiers (document numbers) exist only
// here: nothing this package returns, logs or puts in an error carries one.
//
// A Decoder turns one upstream message into scoring.Events (a flight manifest
// fans out to one event per passenger) or a scoring.Designation, or rejects it
// with a *RejectError whose text becomes the dead-letter `error` header. The
// JSON Schema and an example for every message kind are embedded (Schemas,
// Examples).
//
// JSON is read without reflection by the package's own single-pass reader
// (jsonscan.go, jsonlex.go) and one decode function per message shape
// (jsonshapes.go), into fixed-buffer field types that do not allocate. It
// accepts and refuses exactly what encoding/json did, with its error
// sentences and byte offsets; FuzzJSONOracle holds it to encoding/json, which
// remains only in the tests.
//
// sources depends on scoring and the H3 library only. It must not import
// pipeline or sinks/clickhouse.
package sources
