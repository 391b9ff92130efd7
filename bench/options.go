package bench

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"healthcode/sinks/clickhouse"
)

// Options size and direct one benchmark run. The zero value is valid: every
// field has a default (the full run), and Quick selects smoke sizes for the
// fields left zero.
type Options struct {
	// Out is the directory for report.json, report.md and the CPU profile.
	// Default "bench/out".
	Out string
	// Quick runs every section at smoke sizes that take seconds (CI). Fields
	// set explicitly still win.
	Quick bool
	// ClickHouse is where Sink, EndToEnd and BatchSQL write. Each section uses
	// its own fresh database (named from Database, default "healthcode_bench",
	// plus a suffix) and drops it when done unless it is needed by a later
	// section (E2EDatabase).
	ClickHouse clickhouse.Options
	// Logger receives progress. Default slog.Default().
	Logger *slog.Logger
	// Sections names the sections to run, of core, trace, sink, e2e, latency
	// batch-sql, codes, takeover, peer and scale (batch-sql needs e2e). Default: all, in that order.
	Sections []string

	// People is the number of persons the scoring core holds (Core).
	// Default 10,000,000; Quick 20,000.
	People int
	// CoreEvents is the number of events timed through Engine.Apply (Core),
	// drawn from an in-memory pool of at most 4,194,304 events replayed with
	// shifted times. Default 2 × People.
	CoreEvents int
	// Presences is the number of presences one contact-tracing partition
	// holds (Trace). Default 50,000,000 (building them takes about three
	// minutes here); Quick 200,000.
	Presences int
	// SinkRows is the number of events written to ClickHouse (Sink), and of
	// rows of the bare-insert baseline. Default 1,000,000; Quick 20,000.
	SinkRows int

	// E2EPeople is the simulated province of the end-to-end run (EndToEnd).
	// Default 200,000; Quick 2,000.
	E2EPeople int
	// E2EDays is the number of simulated days of the end-to-end run.
	// Default 1.
	E2EDays int
	// E2EDatabase is the ClickHouse database EndToEnd filled; set by
	// EndToEnd, read by BatchSQL (which drops it).
	E2EDatabase string
	// LatencyRate is the offered rate of the latency run, events/s (Latency).
	// Default 50,000; Quick 2,000.
	LatencyRate int
	// LatencyDuration is how long the latency run offers events.
	// Default 20s; Quick 2s.
	LatencyDuration time.Duration
	// CodesPersons is the number of persons the code service holds (Codes).
	// Default 1,000,000; Quick 20,000.
	CodesPersons int
	// CodesDuration is how long each load run of Codes lasts. Default 10s;
	// Quick 1s.
	CodesDuration time.Duration
	// Binary is the healthcode executable Takeover starts as worker
	// processes. Default: this process's own executable (`healthcode
	// bench`); a test sets one it built.
	Binary string
	// TakeoverEvents is the number of person events the takeover run feeds
	// two score workers (half before the kill, the dead worker's share of
	// the other half after). Default 200,000; Quick 20,000.
	TakeoverEvents int
	// Peer configures the peer section (peer.go): Benthos beside
	// healthcode's ingest and sink.
	Peer PeerOptions
	// RestorePersons is the number of persons in the changelog partition the
	// restore run restores (Takeover). Default 1,000,000; Quick 20,000.
	RestorePersons int
	// ScalePeople is the simulated province of the scale run (Scale): one
	// day of it through broker, simulator and pipeline processes.
	// Default 10,000,000; Quick 20,000.
	ScalePeople int
}

// Defaults of the full run.
const (
	DefaultOut             = "bench/out"
	DefaultPeople          = 10_000_000
	DefaultPresences       = 50_000_000
	DefaultSinkRows        = 1_000_000
	DefaultE2EPeople       = 200_000
	DefaultE2EDays         = 1
	DefaultLatencyRate     = 50_000
	DefaultLatencyDuration = 20 * time.Second
	DefaultBenchDatabase   = "healthcode_bench"
	DefaultCodesPersons    = 1_000_000
	DefaultCodesDuration   = 10 * time.Second

	maxCorePool = 1 << 22 // events held in memory by Core
)

// Quick (smoke) sizes.
const (
	QuickPeople          = 20_000
	QuickPresences       = 200_000
	QuickSinkRows        = 20_000
	QuickE2EPeople       = 2_000
	QuickLatencyRate     = 2_000
	QuickLatencyDuration = 2 * time.Second
	QuickCodesPersons    = 20_000
	QuickCodesDuration   = time.Second
)

func (o *Options) setDefaults() {
	pick := func(full, quick int) int {
		if o.Quick {
			return quick
		}
		return full
	}
	if o.Out == "" {
		o.Out = DefaultOut
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ClickHouse.Database == "" {
		o.ClickHouse.Database = DefaultBenchDatabase
	}
	if o.ClickHouse.Logger == nil {
		o.ClickHouse.Logger = o.Logger
	}
	if o.People <= 0 {
		o.People = pick(DefaultPeople, QuickPeople)
	}
	if o.CoreEvents <= 0 {
		o.CoreEvents = 2 * o.People
	}
	if o.Presences <= 0 {
		o.Presences = pick(DefaultPresences, QuickPresences)
	}
	if o.SinkRows <= 0 {
		o.SinkRows = pick(DefaultSinkRows, QuickSinkRows)
	}
	if o.E2EPeople <= 0 {
		o.E2EPeople = pick(DefaultE2EPeople, QuickE2EPeople)
	}
	if o.E2EDays <= 0 {
		o.E2EDays = DefaultE2EDays
	}
	if o.LatencyRate <= 0 {
		o.LatencyRate = pick(DefaultLatencyRate, QuickLatencyRate)
	}
	if o.LatencyDuration <= 0 {
		o.LatencyDuration = DefaultLatencyDuration
		if o.Quick {
			o.LatencyDuration = QuickLatencyDuration
		}
	}
	if o.CodesPersons <= 0 {
		o.CodesPersons = pick(DefaultCodesPersons, QuickCodesPersons)
	}
	if o.CodesDuration <= 0 {
		o.CodesDuration = DefaultCodesDuration
		if o.Quick {
			o.CodesDuration = QuickCodesDuration
		}
	}
	if o.Binary == "" {
		o.Binary, _ = os.Executable()
	}
	if o.TakeoverEvents <= 0 {
		o.TakeoverEvents = pick(200_000, 20_000)
	}
	if o.RestorePersons <= 0 {
		o.RestorePersons = pick(1_000_000, 20_000)
	}
	if o.ScalePeople <= 0 {
		o.ScalePeople = pick(10_000_000, 20_000)
	}
}

func (o *Options) validate() error {
	known := map[string]bool{}
	for _, s := range sections {
		known[s.name] = true
	}
	want := map[string]bool{}
	for _, name := range o.Sections {
		if !known[name] {
			return fmt.Errorf("bench options: section %q: want one of %s", name, sectionNames())
		}
		want[name] = true
	}
	if want["batch-sql"] && !want["e2e"] {
		return fmt.Errorf("bench options: section batch-sql reads what section e2e wrote: run both")
	}
	if o.People < 1000 {
		return fmt.Errorf("bench options: people %d: want at least 1000", o.People)
	}
	if o.Presences < 10_000 {
		return fmt.Errorf("bench options: presences %d: want at least 10000", o.Presences)
	}
	if o.SinkRows < 1000 {
		return fmt.Errorf("bench options: sink rows %d: want at least 1000", o.SinkRows)
	}
	return nil
}

// SetDefaults fills the zero fields of o with the defaults (Quick sizes when
// o.Quick). Run calls it; a section called on its own should too.
func (o *Options) SetDefaults() { o.setDefaults() }
