package pipeline

import "sync/atomic"

// Metrics are the pipeline's running counters. All fields are updated
// atomically; read them with Load.
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
	ColourRows     atomic.Int64 // colour updates inserted into ClickHouse
	Restored       atomic.Int64 // persons restored from the changelog
	SkippedOffsets atomic.Int64 // person-event messages skipped as already reflected in restored state
}
