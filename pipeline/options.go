package pipeline

import (
	"fmt"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
)

// Stage names, as chosen with `healthcode run --stages`.
const (
	StageIngest = "ingest" // src.* -> hc.person-events, hc.area-risk, hc.overrides, hc.dead-letter
	StageGuard  = "guard"  // hc.overrides -> accepted overrides on hc.person-events, hc.override-audit
	StageScore  = "score"  // hc.person-events -> hc.colour-updates, hc.journeys, hc.scoring-state, hc.presence, hc.override-audit
	StageTrace  = "trace"  // hc.presence -> exposures on hc.person-events and hc.exposures
	StageSink   = "sink"   // hc.person-events, hc.colour-updates, hc.exposures, hc.journeys, hc.override-audit -> ClickHouse
)

// AllStages lists every stage in topology order.
var AllStages = []string{StageIngest, StageGuard, StageScore, StageTrace, StageSink}

// ClockMode chooses what "now" is (docs/contract.md, "Clock").
type ClockMode string

// Clock modes.
const (
	ClockWall  ClockMode = "wall"  // production: now is the wall clock
	ClockEvent ClockMode = "event" // replays, simulations, tests: now is the highest occurred_at seen upstream
)

// Topics names every topic the pipeline touches. The zero value gives the
// contract's defaults.
type Topics struct {
	Sources       map[sources.Stream]string // default "src.<stream>"
	PersonEvents  string                    // default "hc.person-events"
	AreaRisk      string                    // default "hc.area-risk" (compacted; validated designations)
	ColourUpdates string                    // default "hc.colour-updates"
	DeadLetter    string                    // default "hc.dead-letter"
	State         string                    // default "hc.scoring-state" (compacted changelog of person facts)
	Presence      string                    // default "hc.presence" (presences keyed by place, marks and designations broadcast)
	Exposures     string                    // default "hc.exposures" (JSON exposure records for ClickHouse)
	Journeys      string                    // default "hc.journeys" (JSON return-journey rows for ClickHouse)
	Policy        string                    // default "hc.policy" (compacted; the latest valid policy is in force)
	Overrides     string                    // default "hc.overrides" (decoded overrides and event-clock ticks for the override guard)
	OverrideAudit string                    // default "hc.override-audit" (override audit entries and alerts, JSON)
}

func (t *Topics) setDefaults() {
	if t.Sources == nil {
		t.Sources = map[sources.Stream]string{}
	}
	for _, s := range sources.Streams {
		if t.Sources[s] == "" {
			t.Sources[s] = s.DefaultTopic()
		}
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&t.PersonEvents, "hc.person-events")
	def(&t.AreaRisk, "hc.area-risk")
	def(&t.ColourUpdates, "hc.colour-updates")
	def(&t.DeadLetter, "hc.dead-letter")
	def(&t.State, "hc.scoring-state")
	def(&t.Presence, "hc.presence")
	def(&t.Exposures, "hc.exposures")
	def(&t.Journeys, "hc.journeys")
	def(&t.Policy, "hc.policy")
	def(&t.Overrides, "hc.overrides")
	def(&t.OverrideAudit, "hc.override-audit")
}

// Options configure a pipeline. The zero value is valid but for Kafka.Brokers,
// Policy and Decoder.Key.
type Options struct {
	Kafka       kafka.Config // brokers and every Kafka client setting; Logger defaults to Logger
	Topics      Topics
	Partitions  int                // partitions of internal topics (created if missing); default 8
	Policy      *scoring.Policy    // required: in force until a policy is published on Topics.Policy
	Decoder     sources.Config     // pseudonym key etc.; Colours nil: the colours of the policy in force, followed on Topics.Policy
	ClickHouse  clickhouse.Options // for the sink stage
	Clock       ClockMode          // default ClockWall
	Stages      []string           // default AllStages
	Zone        *time.Location     // zone of times written on hc.colour-updates; default +08:00
	GroupPrefix string             // consumer group names are prefix + stage; default "healthcode-"
	IngestBatch int                // upstream messages per ingest batch; default 20000
	SinkBatch   int                // rows per ClickHouse insert; default 50000
	Linger      time.Duration      // how long a batch waits to fill; default 20ms
	SinkLinger  time.Duration      // how long a ClickHouse batch waits to fill; default 500ms
	// ShutdownTimeout is how long a stage told to stop (or a partition
	// handler at a rebalance) may take to finish the batch in hand: write
	// it, have it acknowledged and commit it (shutdown.go). Past it the
	// batch is dropped uncommitted, to be delivered again. Default 10s; it
	// must be below Kafka.RebalanceTimeout.
	ShutdownTimeout time.Duration
	// Lateness, on the event clock, is how far behind the latest input an
	// event may come and still be applied in time order: the score stage
	// holds each event until the clock is that far past it (lateness.go).
	// Default 0: applied at once. Ignored on the wall clock.
	Lateness time.Duration
	Logger   *slog.Logger // default slog.Default()
	Metrics  *Metrics     // counters; default a fresh set
	// Now is the wall clock (tests inject one). Default time.Now.
	Now func() time.Time
	// OverrideSettle is how long after an override's occurred_at the guard
	// decides it, so that overrides arriving in another order within it are
	// decided in time order (docs/overrides.md). Default time.Minute.
	OverrideSettle time.Duration
	// OverrideMetrics count the override guard's alerts; default a fresh set.
	OverrideMetrics *OverrideMetrics
	// DeadLetterRetention is the retention.ms EnsureTopics gives the
	// dead-letter topic when it creates it (it holds raw upstream input);
	// default DefaultDeadLetterRetention. An existing topic keeps its own.
	DeadLetterRetention time.Duration
}

// DefaultDeadLetterRetention is the dead-letter topic's retention: 7 days.
const DefaultDeadLetterRetention = 7 * 24 * time.Hour

func (o *Options) setDefaults() {
	o.Topics.setDefaults()
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.Clock == "" {
		o.Clock = ClockWall
	}
	if len(o.Stages) == 0 {
		o.Stages = AllStages
	}
	if o.Zone == nil {
		o.Zone = sinks.DefaultZone()
	}
	if o.GroupPrefix == "" {
		o.GroupPrefix = "healthcode-"
	}
	if o.IngestBatch <= 0 {
		o.IngestBatch = 20000
	}
	if o.SinkBatch <= 0 {
		o.SinkBatch = 50000
	}
	if o.Linger <= 0 {
		o.Linger = 20 * time.Millisecond
	}
	if o.SinkLinger <= 0 {
		o.SinkLinger = 500 * time.Millisecond
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Kafka.Logger == nil {
		o.Kafka.Logger = o.Logger
	}
	if o.Metrics == nil {
		o.Metrics = &Metrics{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OverrideSettle <= 0 {
		o.OverrideSettle = time.Minute
	}
	if o.OverrideMetrics == nil {
		o.OverrideMetrics = NewOverrideMetrics()
	}
	if o.DeadLetterRetention <= 0 {
		o.DeadLetterRetention = DefaultDeadLetterRetention
	}
	if o.Decoder.Now == nil {
		o.Decoder.Now = o.Now
	}
}

func (o *Options) validate() error {
	if len(o.Kafka.Brokers) == 0 {
		return fmt.Errorf("pipeline: no Kafka brokers (set --brokers, or leave it empty for the embedded broker)")
	}
	if o.Policy == nil {
		return fmt.Errorf("pipeline: no policy")
	}
	if o.Clock != ClockWall && o.Clock != ClockEvent {
		return fmt.Errorf("pipeline: clock %q: want wall or event", o.Clock)
	}
	for _, s := range o.Stages {
		switch s {
		case StageIngest, StageGuard, StageScore, StageTrace, StageSink:
		default:
			return fmt.Errorf("pipeline: unknown stage %q (want %v)", s, AllStages)
		}
	}
	if o.has(StageIngest) && len(o.Decoder.Key) == 0 {
		return fmt.Errorf("pipeline: stage ingest needs a pseudonym key (--pseudonym-key or HEALTHCODE_PSEUDONYM_KEY)")
	}
	return nil
}

func (o *Options) has(stage string) bool {
	for _, s := range o.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

func (o *Options) group(stage string) string { return o.GroupPrefix + stage }

// newEngine returns a scoring engine for one partition: on the event clock
// it decides each event as of the event's own time (docs/contract.md,
// "Clock").
func (o *Options) newEngine() *scoring.Engine {
	return scoring.NewEngine(o.Policy, scoring.EngineOptions{EventTime: o.Clock == ClockEvent})
}
