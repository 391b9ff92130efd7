// Package codes owns the code service: a read-only replica of every person's
// current colour (hc.colour-updates) and certificate facts (tests and
// vaccinations from hc.person-events), and the HTTP handlers that turn them
// into signed HC1 tokens, QR codes, travel certificates and the citizen's
// page. It follows the topics itself (follow.go) and registers its handlers,
// metrics and readiness on a pipeline/service listener. It must not import
// the scoring engine's state, ClickHouse or the ingest stage; token signing
// lives in sinks/codes/token.
package codes
