package chaos

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options size and shape a harness run. The zero value is valid but for Bin:
// the full size of `make chaos`.
type Options struct {
	Bin     string // the healthcode binary to run; required
	WorkDir string // broker, ClickHouse and log directories; default a new temporary directory, removed after a passing run
	Out     string // directory of chaos.md; default "bench/out"

	People int   // simulated population; default 40000
	Days   int   // simulated days; default 7
	Seed   int64 // seeds the simulator and the fault schedule; default 1

	Kills  int           // SIGKILLs of the single-process pipeline; default 20
	Outage time.Duration // how long ClickHouse stays stopped; default 60s

	// Control runs the reference twice and compares the two: what differs
	// there differs without any fault (the pipeline's own nondeterminism).
	Control bool

	// Judge makes recoveries over MaxRecovery (the ClickHouse outage aside)
	// fail the run; the smoke leaves it off and only reports them.
	Judge       bool
	MaxRecovery time.Duration // default 10s
	// Deadline bounds each wait (a recovery, a drain, a process start);
	// default 3m.
	Deadline time.Duration
	Settle   time.Duration // gap between the two checks of "drained"; default 3s

	Logger *slog.Logger // progress; default slog.Default()
}

// Smoke returns the small size that runs in `make test`: a few thousand
// people, one kill, a few seconds of ClickHouse outage, no timing verdicts.
func Smoke(bin string) Options {
	return Options{Bin: bin, People: 2500, Days: 5, Kills: 1, Outage: 3 * time.Second}
}

func (o *Options) setDefaults() {
	if o.Out == "" {
		o.Out = "bench/out"
	}
	if o.People == 0 {
		o.People = 40000
	}
	if o.Days == 0 {
		o.Days = 7
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Kills == 0 {
		o.Kills = 20
	}
	if o.Outage == 0 {
		o.Outage = 60 * time.Second
	}
	if o.MaxRecovery == 0 {
		o.MaxRecovery = 10 * time.Second
	}
	if o.Deadline == 0 {
		o.Deadline = 3 * time.Minute
	}
	if o.Settle == 0 {
		o.Settle = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if o.Bin == "" {
		return errors.New("chaos: no healthcode binary (Options.Bin)")
	}
	if o.People < 100 || o.Days < 1 || o.Kills < 0 || o.Outage < 0 {
		return fmt.Errorf("chaos: bad size: %d people, %d days, %d kills, outage %s", o.People, o.Days, o.Kills, o.Outage)
	}
	return nil
}
