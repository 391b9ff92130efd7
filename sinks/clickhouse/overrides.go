package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
)

const auditColumns = "officer_key, occurred_at, event_id, decision, source, person_key, approver_key, second_approver_key, colour, level, " +
	"colour_before, colour_after, reason, reason_code, office_region, until, decided_at, why, confirms, policy"

const alertColumns = "raised_at, alert_id, rule, scope, officer_key, approver_key, colour, office_region, window_seconds, threshold, count, event_id, policy"

func utc(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

// WriteOverrideAudit appends audit entries to override_audit (append-only:
// nothing ever updates or deletes a row but retention). An entry the table
// cannot hold is reported in a *RefusedError once the others are written.
func (c *Client) WriteOverrideAudit(ctx context.Context, xs []wire.OverrideAudit) error {
	if len(xs) == 0 {
		return nil
	}
	n := len(xs)
	var strs [16][]string // officer, event, decision, source, person, approver, second, colour, before, after, reason, code, region, why, confirms, policy
	for i := range strs {
		strs[i] = make([]string, 0, n)
	}
	levels := make([]uint8, 0, n)
	var times [3][]time.Time // occurred, until, decided
	var refused []RefusedRow
	rows := make([]int, 0, n)
	for i := range xs {
		x := &xs[i]
		if err := storableAudit(x); err != nil {
			refused = append(refused, RefusedRow{Index: i, Table: "override_audit", Err: err})
			continue
		}
		rows = append(rows, i)
		for j, s := range [...]string{x.Officer, x.EventID, x.Decision, x.Source, x.Person, x.Approver, x.SecondApprover, x.Colour,
			x.ColourBefore, x.ColourAfter, x.Reason, x.ReasonCode, x.Region, x.Why, x.Confirms, x.Policy} {
			strs[j] = append(strs[j], s)
		}
		levels = append(levels, x.Level)
		for j, t := range [...]int64{x.OccurredAt, x.Until, x.DecidedAt} {
			times[j] = append(times[j], utc(t))
		}
	}
	cols := []any{strs[0], times[0], strs[1], strs[2], strs[3], strs[4], strs[5], strs[6], strs[7], levels,
		strs[8], strs[9], strs[10], strs[11], strs[12], times[1], times[2], strs[13], strs[14], strs[15]}
	more, err := c.insertIsolating(ctx, "override_audit", auditColumns, cols, rows)
	if err != nil {
		return fmt.Errorf("write override audit: %w", err)
	}
	return refusedOrNil(mergeRefused(refused, more))
}

func storableAudit(x *wire.OverrideAudit) error {
	if !slices.Contains(wire.AuditDecisions, x.Decision) {
		return fmt.Errorf("decision %q is not an audit decision", x.Decision)
	}
	if x.EventID == "" || x.OccurredAt <= 0 {
		return errors.New("an audit entry needs an event id and occurred_at")
	}
	return nil
}

// WriteOverrideAlerts appends alerts to override_alerts.
func (c *Client) WriteOverrideAlerts(ctx context.Context, xs []wire.OverrideAlert) error {
	if len(xs) == 0 {
		return nil
	}
	n := len(xs)
	var strs [9][]string // alert, rule, scope, officer, approver, colour, region, event, policy
	for i := range strs {
		strs[i] = make([]string, 0, n)
	}
	var nums [3][]uint32
	raised := make([]time.Time, 0, n)
	var refused []RefusedRow
	rows := make([]int, 0, n)
	for i := range xs {
		x := &xs[i]
		switch x.Scope {
		case string(scoring.ScopeOfficer), string(scoring.ScopePair), string(scoring.ScopeColour), string(scoring.ScopeRegion):
		default:
			refused = append(refused, RefusedRow{Index: i, Table: "override_alerts", Err: fmt.Errorf("scope %q is not an alert scope", x.Scope)})
			continue
		}
		rows = append(rows, i)
		for j, s := range [...]string{x.AlertID, x.Rule, x.Scope, x.Officer, x.Approver, x.Colour, x.Region, x.EventID, x.Policy} {
			strs[j] = append(strs[j], s)
		}
		for j, v := range [...]int64{x.Window, int64(x.Threshold), int64(x.Count)} {
			nums[j] = append(nums[j], uint32(min(max(v, 0), 1<<32-1)))
		}
		raised = append(raised, utc(x.RaisedAt))
	}
	cols := []any{raised, strs[0], strs[1], strs[2], strs[3], strs[4], strs[5], strs[6], nums[0], nums[1], nums[2], strs[7], strs[8]}
	more, err := c.insertIsolating(ctx, "override_alerts", alertColumns, cols, rows)
	if err != nil {
		return fmt.Errorf("write override alerts: %w", err)
	}
	return refusedOrNil(mergeRefused(refused, more))
}

// OverrideAudit returns the audit entries of a person's overrides, in time
// order (duplicate deliveries once).
func (c *Client) OverrideAudit(ctx context.Context, key scoring.PersonKey) ([]wire.OverrideAudit, error) {
	rows, err := c.conn.Query(ctx, `SELECT `+auditColumns+` FROM override_audit WHERE person_key = ?
ORDER BY occurred_at, event_id, decided_at, decision LIMIT 1 BY event_id, decision`, key.String())
	if err != nil {
		return nil, fmt.Errorf("query override audit of %s: %w", key, err)
	}
	defer rows.Close()
	var out []wire.OverrideAudit
	for rows.Next() {
		var x wire.OverrideAudit
		var occurred, until, decided time.Time
		if err := rows.Scan(&x.Officer, &occurred, &x.EventID, &x.Decision, &x.Source, &x.Person, &x.Approver, &x.SecondApprover,
			&x.Colour, &x.Level, &x.ColourBefore, &x.ColourAfter, &x.Reason, &x.ReasonCode, &x.Region, &until, &decided,
			&x.Why, &x.Confirms, &x.Policy); err != nil {
			return nil, fmt.Errorf("scan override audit: %w", err)
		}
		x.OccurredAt, x.Until, x.DecidedAt = occurred.Unix(), until.Unix(), decided.Unix()
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("override audit of %s: %w", key, err)
	}
	return out, nil
}

// OverrideAlertCounts returns how many alerts each rule raised (duplicate
// deliveries once).
func (c *Client) OverrideAlertCounts(ctx context.Context) (map[string]uint64, error) {
	rows, err := c.conn.Query(ctx, "SELECT rule, uniqExact(alert_id) FROM override_alerts GROUP BY rule")
	if err != nil {
		return nil, fmt.Errorf("count override alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var rule string
		var n uint64
		if err := rows.Scan(&rule, &n); err != nil {
			return nil, fmt.Errorf("scan override alerts: %w", err)
		}
		out[rule] = n
	}
	return out, rows.Err()
}

// OverrideDecisionCounts returns how many overrides got each decision
// (duplicate deliveries once).
func (c *Client) OverrideDecisionCounts(ctx context.Context) (map[string]uint64, error) {
	rows, err := c.conn.Query(ctx, "SELECT toString(decision), uniqExact(source, event_id) FROM override_audit GROUP BY decision")
	if err != nil {
		return nil, fmt.Errorf("count override decisions: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var d string
		var n uint64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("scan override decisions: %w", err)
		}
		out[d] = n
	}
	return out, rows.Err()
}
