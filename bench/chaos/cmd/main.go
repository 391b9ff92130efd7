// Command chaos runs the fault harness of package bench/chaos against a
// healthcode binary and writes bench/out/chaos.md; it exits 1 when anything
// differs from the uninterrupted run or a recovery took too long. `make
// chaos` builds bin/healthcode and runs it at full size.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"healthcode/bench/chaos"
)

func main() {
	var o chaos.Options
	flag.StringVar(&o.Bin, "bin", "bin/healthcode", "the healthcode binary to run")
	flag.StringVar(&o.Out, "out", "bench/out", "directory of chaos.md")
	flag.StringVar(&o.WorkDir, "work-dir", "", "directory for the broker, ClickHouse and logs (kept); default a temporary one, removed after a passing run")
	flag.IntVar(&o.People, "people", 40000, "simulated population")
	flag.IntVar(&o.Days, "days", 7, "simulated days")
	flag.Int64Var(&o.Seed, "seed", 1, "seed of the simulator and of the fault times")
	flag.IntVar(&o.Kills, "kills", 20, "SIGKILLs of the pipeline")
	flag.DurationVar(&o.Outage, "outage", 60*time.Second, "how long ClickHouse stays stopped")
	flag.DurationVar(&o.MaxRecovery, "max-recovery", 10*time.Second, "longest recovery that passes")
	flag.BoolVar(&o.Control, "control", false, "run the reference twice and report what differs between two uninterrupted runs")
	judge := flag.Bool("judge", true, "fail when a recovery exceeds --max-recovery")
	flag.Parse()
	o.Judge = *judge
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := chaos.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	fmt.Print(r.Markdown())
	if !r.Passed() {
		os.Exit(1)
	}
}
