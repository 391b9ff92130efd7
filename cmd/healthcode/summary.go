package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"healthcode/pipeline"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
)

// printSummary prints what a demo run did, from the pipeline's counters and
// from ClickHouse, with SQL to try next.
func printSummary(ctx context.Context, w io.Writer, o pipeline.Options, m *pipeline.Metrics, sr simResult, took time.Duration) error {
	ch, err := clickhouse.Open(ctx, o.ClickHouse)
	if err != nil {
		return err
	}
	defer ch.Close()
	counts, err := ch.ColourCounts(ctx)
	if err != nil {
		return err
	}
	changes, err := ch.Count(ctx, "colour_changes", false)
	if err != nil {
		return err
	}
	events, err := ch.Count(ctx, "events", false)
	if err != nil {
		return err
	}
	exposures, err := ch.Count(ctx, "exposures", true)
	if err != nil {
		return err
	}
	decisions, err := ch.OverrideDecisionCounts(ctx)
	if err != nil {
		return err
	}
	alerts, err := ch.OverrideAlertCounts(ctx)
	if err != nil {
		return err
	}
	journeys, err := ch.JourneyCounts(ctx)
	if err != nil {
		return err
	}
	db := o.ClickHouse.Database
	if db == "" {
		db = clickhouse.DefaultDatabase
	}
	fmt.Fprintf(w, "\nhealthcode demo: %d simulated people over %d days, policy %s, clock %s — done in %s\n\n",
		sr.summary.People, sr.days, o.Policy.Stamp(), o.Clock, took.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  upstream messages in    %10d   (", m.UpstreamIn.Load())
	for i, s := range sources.Streams {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s %d", s, sr.summary.Messages[s])
	}
	fmt.Fprintln(w, ")")
	fmt.Fprintf(w, "  dead letters            %10d   (hc.dead-letter, each with its reason in the error header)\n", m.DeadLetters.Load())
	fmt.Fprintf(w, "  person events           %10d   (hc.person-events, pseudonymised)\n", m.PersonEvents.Load())
	fmt.Fprintf(w, "  colour updates out      %10d   (hc.colour-updates)\n", m.Updates.Load())
	fmt.Fprintf(w, "  contact tracing         %10d marks (cases, close contacts), %d exposures found\n", m.Marks.Load(), m.Exposures.Load())
	fmt.Fprintf(w, "  ClickHouse rows         %10d events, %d colour_changes, %d exposures\n", events, changes, exposures)
	printOverrides(w, o.OverrideMetrics, decisions, alerts)
	fmt.Fprintf(w, "  throughput              %10.0f upstream messages/s end to end\n", float64(m.UpstreamIn.Load())/took.Seconds())
	fmt.Fprintf(w, "  simulated infections    %10d   (%d index cases)\n\n", sr.summary.Infected, sr.summary.Cases)
	fmt.Fprintln(w, "  current colours:")
	for _, c := range counts {
		fmt.Fprintf(w, "    %-8s %10d\n", c.Colour, c.People)
	}
	fmt.Fprint(w, "\n  return journeys (return_journeys):")
	for _, j := range journeys {
		fmt.Fprintf(w, " %s %d", j.Status, j.Journeys)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, `
Try (clickhouse-client --port 9000):
  SELECT colour, count() FROM (SELECT person_key, argMax(colour, version) AS colour FROM %[1]s.colours_current GROUP BY person_key) GROUP BY colour;
  SELECT arrayJoin(rules) AS rule, count() FROM %[1]s.colour_changes GROUP BY rule ORDER BY count() DESC;
  SELECT toDate(effective_at) AS day, colour, count() FROM %[1]s.colour_changes GROUP BY day, colour ORDER BY day, colour;
  SELECT kind, count() FROM %[1]s.exposures FINAL WHERE retracted = 0 GROUP BY kind;
  SELECT exposed_key, kind, source_key, place, overlap_start FROM %[1]s.exposures FINAL WHERE retracted = 0 ORDER BY overlap_start LIMIT 20;
  SELECT person_key FROM %[1]s.colours_current FINAL WHERE colour = 'red' LIMIT 5;   -- then: healthcode explain KEY
  SELECT status, count() FROM %[1]s.return_journeys FINAL GROUP BY status;   -- more in docs/sql.md
  SELECT rule, scope, officer_key, count, raised_at FROM %[1]s.override_alerts;   -- healthcode key --id-type officer finds an officer
  SELECT decision, colour, count() FROM %[1]s.override_audit GROUP BY decision, colour ORDER BY decision, colour;
`, db)
	return nil
}

// printOverrides prints the override audit and the alerts of the run (from
// ClickHouse; the alert counter as on /metrics).
func printOverrides(w io.Writer, m *pipeline.OverrideMetrics, decisions, alerts map[string]uint64) {
	fmt.Fprintf(w, "  official overrides      %10d accepted, %d held for a second approver, %d refused, %d applied (override_audit)\n",
		decisions["accepted"], decisions["held"], decisions["refused"], decisions["applied"])
	rules := slices.Sorted(maps.Keys(alerts))
	var total uint64
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		total += alerts[r]
		parts = append(parts, fmt.Sprintf("%s %d", r, alerts[r]))
	}
	fmt.Fprintf(w, "  override alerts         %10d   (override_alerts: %s; healthcode_override_alerts_total %d)\n",
		total, strings.Join(parts, ", "), m.Raised.Load())
}
