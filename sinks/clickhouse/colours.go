package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
)

// displayZone is the offset of the times Current and History return (+08:00),
// as on hc.colour-updates.
var displayZone = time.FixedZone("CST", 8*3600)

const (
	changeColumns  = "person_key, version, colour, previous, level, policy, effective_at, review_at, reasons, rules"
	currentColumns = "person_key, version, colour, previous, level, policy, effective_at, review_at, reasons"
)

// colourBatch holds the columns shared by colour_changes and colours_current.
type colourBatch struct {
	keys                        []string
	versions                    []uint64
	colours, previous, policies []string
	levels                      []uint8
	effective, review           []int64 // unix seconds, 0 = absent
	reasons                     []string
	rules                       [][]string
}

func (b *colourBatch) add(i int, u *sinks.ColourUpdate) error {
	key, err := scoring.ParsePersonKey(u.PersonKey)
	if err != nil {
		return fmt.Errorf("update %d: %w", i, err)
	}
	if u.Level < 0 || u.Level > math.MaxUint8 {
		return fmt.Errorf("update %d (%s v%d): level %d outside 0..255", i, key, u.Version, u.Level)
	}
	eff, err := parseUpdateTime(u.EffectiveAt, true)
	if err != nil {
		return fmt.Errorf("update %d (%s v%d): effective_at: %w", i, key, u.Version, err)
	}
	rev, err := parseUpdateTime(u.ReviewAt, false)
	if err != nil {
		return fmt.Errorf("update %d (%s v%d): review_at: %w", i, key, u.Version, err)
	}
	reasons := u.Reasons
	if reasons == nil {
		reasons = []sinks.Reason{}
	}
	js, err := json.Marshal(reasons)
	if err != nil {
		return fmt.Errorf("update %d (%s v%d): encode reasons: %w", i, key, u.Version, err)
	}
	rules := make([]string, len(reasons))
	for j := range reasons {
		rules[j] = reasons[j].Rule
	}
	b.keys = append(b.keys, key.String())
	b.versions = append(b.versions, u.Version)
	b.colours = append(b.colours, u.Colour)
	b.previous = append(b.previous, u.Previous)
	b.levels = append(b.levels, uint8(u.Level))
	b.policies = append(b.policies, u.Policy)
	b.effective = append(b.effective, eff)
	b.review = append(b.review, rev)
	b.reasons = append(b.reasons, string(js))
	b.rules = append(b.rules, rules)
	return nil
}

// parseUpdateTime parses an RFC 3339 time of a colour update to unix seconds
// (0 for "" when the time is optional). DateTime holds 1970..2106.
func parseUpdateTime(s string, required bool) (int64, error) {
	if s == "" {
		if required {
			return 0, fmt.Errorf("missing")
		}
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, err
	}
	u := t.Unix()
	if u <= 0 || u > math.MaxUint32 {
		return 0, fmt.Errorf("%s outside 1970..2106", s)
	}
	return u, nil
}

// WriteColourUpdates inserts ups into colour_changes and colours_current (two
// batched inserts, in that order). An update the tables cannot hold (a bad
// key, level or time) or that either table refuses is left out of both (or of
// colours_current, if colour_changes took it) and reported in a
// *RefusedError (Index: its index in ups) once every other update is
// written; any other error means the call is to be retried.
func (c *Client) WriteColourUpdates(ctx context.Context, ups []sinks.ColourUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	var b colourBatch
	var refused []RefusedRow
	rows := make([]int, 0, len(ups))
	for i := range ups {
		if err := b.add(i, &ups[i]); err != nil {
			refused = append(refused, RefusedRow{Index: i, Table: "colour_changes", Err: err})
			continue
		}
		rows = append(rows, i)
	}
	current := []any{b.keys, b.versions, b.colours, b.previous, b.levels, b.policies, b.effective, b.review, b.reasons}
	more, err := c.insertIsolating(ctx, "colour_changes", changeColumns, append(current[:len(current):len(current)], b.rules), rows)
	if err != nil {
		return fmt.Errorf("write colour updates: %w", err)
	}
	if len(more) > 0 {
		// colours_current gets what colour_changes took.
		out := map[int]bool{}
		for _, r := range more {
			out[r.Index] = true
		}
		var keep, kept []int
		for j, i := range rows {
			if !out[i] {
				keep, kept = append(keep, j), append(kept, i)
			}
		}
		current, rows = pickRows(current, keep), kept
		refused = mergeRefused(refused, more)
	}
	more, err = c.insertIsolating(ctx, "colours_current", currentColumns, current, rows)
	if err != nil {
		return fmt.Errorf("write colour updates: %w", err)
	}
	return refusedOrNil(mergeRefused(refused, more))
}

// Current returns the person's latest colour from colours_current (the row
// with the highest version, merged or not), or nil and no error if the person
// has none.
func (c *Client) Current(ctx context.Context, key scoring.PersonKey) (*sinks.ColourUpdate, error) {
	rows, err := c.conn.Query(ctx, `SELECT person_key, max(version), argMax(colour, version), argMax(previous, version),
       argMax(level, version), argMax(policy, version), argMax(effective_at, version),
       argMax(review_at, version), argMax(reasons, version)
FROM colours_current WHERE person_key = ? GROUP BY person_key`, key.String())
	if err != nil {
		return nil, fmt.Errorf("query current colour of %s: %w", key, err)
	}
	ups, err := scanUpdates(rows)
	if err != nil {
		return nil, fmt.Errorf("current colour of %s: %w", key, err)
	}
	if len(ups) == 0 {
		return nil, nil
	}
	return &ups[0], nil
}

// History returns the person's colour changes, newest first, at most limit of
// them (all if limit <= 0). Duplicate deliveries are merged.
func (c *Client) History(ctx context.Context, key scoring.PersonKey, limit int) ([]sinks.ColourUpdate, error) {
	q := `SELECT person_key, version, colour, previous, level, policy, effective_at, review_at, reasons
FROM colour_changes FINAL WHERE person_key = ? ORDER BY version DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := c.conn.Query(ctx, q, key.String())
	if err != nil {
		return nil, fmt.Errorf("query colour history of %s: %w", key, err)
	}
	ups, err := scanUpdates(rows)
	if err != nil {
		return nil, fmt.Errorf("colour history of %s: %w", key, err)
	}
	return ups, nil
}

// updateRows is the part of driver.Rows scanUpdates needs.
type updateRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// scanUpdates reads rows of (person_key, version, colour, previous, level,
// policy, effective_at, review_at, reasons) and closes them.
func scanUpdates(rows updateRows) ([]sinks.ColourUpdate, error) {
	defer rows.Close()
	var out []sinks.ColourUpdate
	for rows.Next() {
		var (
			u          sinks.ColourUpdate
			level      uint8
			eff, rev   time.Time
			reasonJSON string
		)
		if err := rows.Scan(&u.PersonKey, &u.Version, &u.Colour, &u.Previous, &level, &u.Policy, &eff, &rev, &reasonJSON); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		u.Level = int(level)
		u.EffectiveAt = formatRowTime(eff)
		u.ReviewAt = formatRowTime(rev)
		if err := json.Unmarshal([]byte(reasonJSON), &u.Reasons); err != nil {
			return nil, fmt.Errorf("version %d: decode reasons: %w", u.Version, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

// formatRowTime formats a DateTime read back as RFC 3339 in +08:00, "" for 0.
func formatRowTime(t time.Time) string {
	if t.Unix() == 0 {
		return ""
	}
	return t.In(displayZone).Format(time.RFC3339)
}
