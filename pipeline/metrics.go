package pipeline

import (
	"sync"
	"sync/atomic"
)

// Metrics are the pipeline's running counters and its Prometheus metrics: one
// home for both. The atomic fields are what the demo's summary and the
// benchmarks read (with Load); the Prometheus metrics (observe.go) are what
// /metrics serves, and healthcode_clickhouse_rows_total is read from the
// atomic row counters here. The zero value is valid; use it by pointer.
type Metrics struct {
	UpstreamIn     atomic.Int64 // upstream messages consumed and committed
	DeadLetters    atomic.Int64 // messages sent to the dead-letter topic
	PersonEvents   atomic.Int64 // person events written to hc.person-events
	Designations   atomic.Int64 // area designations written to hc.area-risk
	EventsScored   atomic.Int64 // person events applied by the scoring stage
	Updates        atomic.Int64 // colour updates written to hc.colour-updates
	StateRecords   atomic.Int64 // state records written to the changelog
	Presences      atomic.Int64 // presences written to hc.presence
	Marks          atomic.Int64 // marks (cases, close contacts) raised for contact tracing
	Exposures      atomic.Int64 // exposures found by the tracing stage
	ExposureRows   atomic.Int64 // rows inserted into ClickHouse exposures
	Journeys       atomic.Int64 // return-journey rows written to hc.journeys
	JourneyRows    atomic.Int64 // rows inserted into ClickHouse return_journeys
	EventRows      atomic.Int64 // rows inserted into ClickHouse events
	ColourRows     atomic.Int64 // colour updates inserted into ClickHouse (a row each in colour_changes and colours_current)
	Restored       atomic.Int64 // persons restored from the changelog
	SkippedOffsets atomic.Int64 // person-event messages skipped as already reflected in restored state
	// PartitionRestores counts partitions whose state was restored (score:
	// from the changelog; trace: by replaying hc.presence); PartitionsKept
	// those whose state was kept across a rebalance instead (statecache.go).
	PartitionRestores atomic.Int64
	PartitionsKept    atomic.Int64

	promOnce sync.Once
	prom     *promMetrics // built on first use, so the zero value works
}

// p returns the Prometheus side, building it on first use.
func (m *Metrics) p() *promMetrics {
	m.promOnce.Do(func() { m.prom = newPromMetrics(m) })
	return m.prom
}
