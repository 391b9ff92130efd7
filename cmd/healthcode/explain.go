package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

func explainCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("explain", "explain PERSON_KEY [--clickhouse ADDR] [--clickhouse-db DB] [--history N]")
	chf := addClickHouseFlags(fs, true)
	history := fs.Int("history", 10, "how many past colour changes to show")
	// Accept the key before or after the flags.
	var keyArg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		keyArg, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if keyArg == "" {
		keyArg = fs.Arg(0)
	}
	key, err := scoring.ParsePersonKey(keyArg)
	if err != nil {
		return fmt.Errorf("%w (healthcode key prints a person's key)", err)
	}
	chOpts, err := chf.options()
	if err != nil {
		return err
	}
	ch, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		return err
	}
	defer ch.Close()
	cur, err := ch.Current(ctx, key)
	if err != nil {
		return err
	}
	if cur == nil {
		fmt.Fprintf(stdout, "%s: no colour issued (never seen: green by default, nothing issued)\n", key)
		return nil
	}
	fmt.Fprintf(stdout, "person   %s\ncolour   %s (level %d), version %d, policy %s\neffective %s\n",
		cur.PersonKey, strings.ToUpper(cur.Colour), cur.Level, cur.Version, cur.Policy, cur.EffectiveAt)
	if cur.ReviewAt != "" {
		fmt.Fprintf(stdout, "review   %s (the colour is re-evaluated then without new input)\n", cur.ReviewAt)
	} else {
		fmt.Fprintln(stdout, "review   none pending")
	}
	if len(cur.Reasons) == 0 {
		fmt.Fprintln(stdout, "reasons  none: no rule is active")
	}
	var ids []string
	for i, r := range cur.Reasons {
		fmt.Fprintf(stdout, "\nreason %d: %s\n  %s\n  %s\n", i+1, r.Rule, r.TextEN, r.TextZH)
		if r.Until != "" {
			fmt.Fprintf(stdout, "  until     %s\n", r.Until)
		}
		if r.ClearsWhen != "" {
			fmt.Fprintf(stdout, "  clears    %s\n", r.ClearsWhen)
		}
		if r.ClearsWhenZH != "" {
			fmt.Fprintf(stdout, "            %s\n", r.ClearsWhenZH)
		}
		fmt.Fprintf(stdout, "  evidence  %s\n", strings.Join(r.Evidence, ", "))
		ids = append(ids, r.Evidence...)
	}
	if len(ids) > 0 {
		rows, err := ch.EventsByID(ctx, key, ids)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			fmt.Fprintln(stdout, "\nevidence events:")
			for _, e := range rows {
				fmt.Fprintf(stdout, "  %s\n", describeEvent(&e))
			}
		}
	}
	if err := explainJourney(ctx, ch, key, stdout); err != nil {
		return err
	}
	audit, err := ch.OverrideAudit(ctx, key)
	if err != nil {
		return err
	}
	printOverrideAudit(stdout, audit)
	hist, err := ch.History(ctx, key, *history)
	if err != nil {
		return err
	}
	if len(hist) > 1 {
		fmt.Fprintln(stdout, "\nhistory (newest first):")
		for _, h := range hist {
			rules := make([]string, len(h.Reasons))
			for i, r := range h.Reasons {
				rules[i] = r.Rule
			}
			fmt.Fprintf(stdout, "  v%-4d %s  %-7s %s\n", h.Version, h.EffectiveAt, h.Colour, strings.Join(rules, ","))
		}
	}
	return nil
}

// describeEvent renders an evidence event in one line a person can read.
func describeEvent(e *clickhouse.EventRow) string {
	zone := sinks.DefaultZone()
	at := e.OccurredAt.In(zone).Format(time.RFC3339)
	var what string
	switch e.Kind {
	case "test":
		kinds := map[uint8]string{1: "PCR", 2: "antigen", 3: "IgG", 4: "IgM"}
		results := map[uint8]string{1: "negative", 2: "positive", 3: "inconclusive"}
		what = fmt.Sprintf("%s test %s, sampled %s", kinds[e.Sub], results[e.Result], at)
		if !e.EndedAt.IsZero() {
			what += ", reported " + e.EndedAt.In(zone).Format(time.RFC3339)
		}
	case "arrival":
		what = fmt.Sprintf("flight %s from %s arrived %s, seat row %d", e.Place, e.Country, at, e.SeatRow)
		if e.Text != "" {
			what += ", at " + e.Text
		}
	case "checkin":
		what = fmt.Sprintf("check-in at venue %s from %s", e.Place, at)
	case "travel":
		what = fmt.Sprintf("stay in region %s (%s) from %s", e.Place, e.Country, at)
	case "declaration":
		what = fmt.Sprintf("self-declaration at %s, temperature %.1f °C, symptom bits %05b", at, e.TemperatureC, e.Symptoms)
	case "exposure":
		kind, err := wire.ExposureKindName(scoring.ExposureKind(e.Sub))
		if err != nil {
			kind = "exposure"
		}
		what = fmt.Sprintf("%s at %s, exposure ended %s", strings.ReplaceAll(kind, "_", " "), e.Place, at)
		if e.Text != "" {
			what += ", source person " + e.Text
		}
	case "override":
		what = fmt.Sprintf("official override at %s: %q", at, e.Text)
	default:
		what = fmt.Sprintf("%s event at %s, place %s", e.Kind, at, e.Place)
	}
	return fmt.Sprintf("%-24s %s (source %s)", e.EventID, what, e.Source)
}

// printOverrideAudit prints what happened to the person's official
// overrides: every decision, with the officer's and approvers' pseudonyms
// (an auditor holding the key finds them with healthcode key --id-type officer).
func printOverrideAudit(w io.Writer, audit []wire.OverrideAudit) {
	if len(audit) == 0 {
		return
	}
	zone := sinks.DefaultZone()
	at := func(unix int64) string { return time.Unix(unix, 0).In(zone).Format(time.RFC3339) }
	fmt.Fprintln(w, "\nofficial overrides (officers and approvers by pseudonym; healthcode key --id-type officer finds one):")
	for _, a := range audit {
		fmt.Fprintf(w, "  %s  %-10s %s to %s until %s", at(a.OccurredAt), a.Decision, a.EventID, a.Colour, at(a.Until))
		switch {
		case a.ColourBefore != "":
			fmt.Fprintf(w, ": %s -> %s", a.ColourBefore, a.ColourAfter)
		case a.Confirms != "":
			fmt.Fprintf(w, ": confirms %s", a.Confirms)
		}
		fmt.Fprintln(w)
		if a.Why != "" {
			fmt.Fprintf(w, "      why       %s\n", a.Why)
		}
		fmt.Fprintf(w, "      officer   %s, approver %s", a.Officer, a.Approver)
		if a.SecondApprover != "" {
			fmt.Fprintf(w, ", second approver %s", a.SecondApprover)
		}
		if a.ReasonCode != "" {
			fmt.Fprintf(w, ", reason code %s", a.ReasonCode)
		}
		fmt.Fprintf(w, "\n      reason    %s\n", a.Reason)
	}
}
