// Package codes owns the code service: a read-only replica of every person's
// current colour (hc.colour-updates) and certificate facts (tests and
// vaccinations from hc.person-events), and the HTTP handlers that turn them
// into signed HC1 tokens, QR codes, travel certificates and the citizen's
// page. It follows the topics itself (follow.go) and registers its handlers,
// metrics and readiness on a pipeline/service listener. It uses scoring's
// types, sources only for the person key (the HMAC of docs/contract.md) and wire for
// hc.person-events; it must not import the pipeline's stages or ClickHouse.
// Token signing lives in sinks/codes/token, the QR image (drawn and read
// back) in sinks/codes/qr.
package codes
