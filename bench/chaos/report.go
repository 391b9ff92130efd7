package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// write writes chaos.md into Options.Out.
func (r *Report) write() error {
	if err := os.MkdirAll(r.Options.Out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(r.Options.Out, "chaos.md")
	if err := os.WriteFile(path, []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	o := &r.Options
	var b strings.Builder
	verdict := "PASSED"
	if !r.Passed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "# Chaos run: %s\n\n", verdict)
	fmt.Fprintf(&b, "Written by the fault harness (`make chaos`, bench/chaos) on %s.\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "## What it did\n\n")
	fmt.Fprintf(&b, "- A simulated province of **%d persons over %d days** (seed %d, the shipped domestic policy): %d upstream messages, written by the simulator in process as `healthcode simulate` does.\n",
		o.People, o.Days, o.Seed, r.Messages)
	fmt.Fprintf(&b, "- Each run has its own standalone broker (`healthcode broker --port P --data-dir D`, kfake), its own database on a private clickhouse-server (free loopback port, data under the work directory), and workers `healthcode run --brokers 127.0.0.1:P --clock event --partitions %d`%s. The pseudonym key reaches the workers in the environment.\n",
		partitions, featureNote(r.Features))
	fmt.Fprintf(&b, "- Both runs get the input in the same %d equal steps, each released once the one before has drained, so both see it in the same order as far as the harness decides it (a fault that finds its step done already is measured on the next step).\n", r.steps())
	fmt.Fprintf(&b, "- **Reference**: one worker, uninterrupted: drained after %s.\n", ms(r.RefTook))
	fmt.Fprintf(&b, "- **Under faults**: one fault per step after the first, landing at a random point of its step (a fraction, drawn from a generator seeded with %d and never from the clock, of the time the reference took for that step), so each fault finds work in hand; drained after %s. A process that exits on its own is restarted a second later, as a supervisor would, and listed below.\n",
		o.Seed, ms(r.ChaosTook))
	fmt.Fprintf(&b, "- **Drained** means: the simulator has finished, every consumer group's committed offset equals the end offset on every partition of its input, and the ClickHouse row counts have stopped changing, all seen twice %s apart with nothing moved in between (an idle stretch of a stalled run still has lag, so it is not taken for drained).\n", o.Settle)
	fmt.Fprintf(&b, "- **Recovery** of a fault is the time from the fault until every partition that had uncommitted input at the fault has committed more (or all of it), read through the toolkit's lag query (`pipeline.Lag`: committed and end offsets of every group). For the ClickHouse outage it is counted from the restart, on the sink's groups; what matters there is that the other stages kept committing during the outage.\n\n")

	fmt.Fprintf(&b, "## Faults and recovery\n\n")
	fmt.Fprintf(&b, "| # | at | fault | detail | recovery | limit |\n|---|---|---|---|---|---|\n")
	for _, f := range r.Faults {
		rec := ms(f.rec.took)
		if f.rec.err != nil {
			rec = "**not recovered**: " + f.rec.err.Error()
		}
		limit := "reported only"
		if f.judged && o.Judge {
			limit = "≤ " + o.MaxRecovery.String()
			if f.rec.err == nil && f.rec.took > o.MaxRecovery {
				limit += " **exceeded**"
			}
		} else if f.judged {
			limit = "≤ " + o.MaxRecovery.String() + " (not judged at this size)"
		}
		detail := f.detail
		if f.note != "" {
			detail += "; " + f.note
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s; %d partitions stalled | %s | %s |\n", f.n, ms(f.at), f.kind, detail, f.rec.stalled, rec, limit)
	}
	var kills []string
	for _, f := range r.Faults {
		if f.judged && f.rec.err == nil {
			kills = append(kills, fmt.Sprintf("%.1f", f.rec.took.Seconds()))
		}
	}
	fmt.Fprintf(&b, "\nRecovery times of the judged faults, in order (s): %s.\n\n", strings.Join(kills, ", "))

	fmt.Fprintf(&b, "## Comparison with the reference\n\n| what | reference | under faults | identical |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		ok := "yes"
		if !c.ok {
			ok = "**NO**"
		}
		what := c.what
		if c.detail != "" {
			what += " — " + c.detail
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", strings.ReplaceAll(what, "|", "\\|"), c.ref, c.chaos, ok)
	}
	if len(r.Control) > 0 {
		fmt.Fprintf(&b, "\n### Control: a second uninterrupted run against the reference\n\nWhat differs here differs without any fault: the pipeline's own nondeterminism, not a loss.\n\n| what | reference | second run | identical |\n|---|---|---|---|\n")
		for _, c := range r.Control {
			ok := "yes"
			if !c.ok {
				ok = "**NO**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", strings.ReplaceAll(c.what, "|", "\\|"), c.ref, c.chaos, ok)
		}
	}
	fmt.Fprintf(&b, "\nThe tables are read with `FINAL`, every column but `inserted_at` and the Kafka coordinates (`kafka_topic`, `kafka_partition`, `kafka_offset`: a message delivered again after a restart may be written from another offset). Updates are read from `hc.colour-updates` from the first offset to the end, the latest version per person giving the final colour and reasons.\n\n")

	fmt.Fprintf(&b, "## What the broker keeps\n\n")
	fmt.Fprintf(&b, "kfake with `--data-dir` appends every produced batch to its segment files and every offset commit to `groups.log` as it happens, with a write(2) and no fsync (real Kafka's default). A SIGKILL of the broker process therefore loses nothing it acknowledged: the kernel holds the pages. A machine crash could lose the last unsynced writes; `healthcode broker --sync-writes` fsyncs each batch. A clean stop (SIGTERM) also writes the group sessions (members, generations), so members keep their ids; after a SIGKILL the groups' members are gone and every worker rejoins.\n\n")

	fmt.Fprintf(&b, "## Unexpected exits\n\n")
	if len(r.Crashes) == 0 {
		fmt.Fprintf(&b, "None: every process exit was one the harness caused.\n\n")
	}
	for _, c := range r.Crashes {
		fmt.Fprintf(&b, "- %s\n", oneLine(c))
	}
	fmt.Fprintf(&b, "## Verdict\n\n")
	if r.Passed() {
		fmt.Fprintf(&b, "Every fault was survived with nothing lost or changed")
		if o.Judge {
			fmt.Fprintf(&b, ", and every judged recovery took at most %s", o.MaxRecovery)
		}
		fmt.Fprintf(&b, ".\n")
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "- FAIL: %s\n", oneLine(f))
	}
	fmt.Fprintf(&b, "\nWork directory (logs of every process): `%s`%s.\n", r.WorkDir, map[bool]string{true: ", removed after a passing run", false: ""}[r.Passed() && o.WorkDir == ""])
	return b.String()
}

func featureNote(f features) string {
	s := []string{"`--lateness " + lateness + "`"}
	if f.http {
		s = append(s, "`--http 127.0.0.1:FREE`")
	}
	if f.shutdownTimeout {
		s = append(s, "`--shutdown-timeout 10s`")
	}
	return " " + strings.Join(s, " ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
