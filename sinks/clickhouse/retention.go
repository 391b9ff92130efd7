package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// retainedTables are the tables DropExpired prunes by month; each is
// partitioned by toYYYYMM of a DateTime('UTC') column (the rollups: of their
// Date day).
var retainedTables = [...]string{"events", "colour_changes", "colour_transitions_daily", "exposures_daily", "place_exposures"}

// auditTables are pruned by month like retainedTables, after
// AuditRetentionDays (the longest retention): nothing else ever deletes
// from them.
var auditTables = [...]string{"override_audit", "override_alerts"}

// DropExpired drops, from events, colour_changes and the rollups
// (colour_transitions_daily, exposures_daily, place_exposures), every monthly partition
// that lies wholly before now minus RetentionDays (its month ended on or before
// that instant), and returns how many partitions it dropped. It reads the
// partitions from system.parts. colours_current is never pruned. exposures is
// not partitioned (a new version of an exposure may fall in another month than
// the one it replaces): its rows with exposed_at before the month boundary are
// deleted by a mutation instead. A retraction's exposed_at is the end of the
// latest stay behind the exposure, never before the versions it hides, so
// retention never brings a retracted exposure back.
//
// In cluster mode it reads the parts of every server (the cluster table
// function) and drops each partition ON CLUSTER from the local tables.
//
// ClickHouse refuses to drop a partition larger than the server's
// max_partition_size_to_drop (50 GB by default); raise it in the server config
// for bigger months.
func (c *Client) DropExpired(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UTC().AddDate(0, 0, -c.opts.RetentionDays)
	dropped, err := c.dropMonths(ctx, retainedTables[:], cutoff)
	if err != nil {
		return dropped, err
	}
	// The override audit is kept longest (its own setting).
	n, err := c.dropMonths(ctx, auditTables[:], now.UTC().AddDate(0, 0, -c.opts.AuditRetentionDays))
	dropped += n
	if err != nil {
		return dropped, err
	}
	// The same boundary for exposures: the start of the first month kept.
	first := time.Date(cutoff.Year(), cutoff.Month(), 1, 0, 0, 0, 0, time.UTC)
	var old uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM exposures WHERE exposed_at < ?", first).Scan(&old); err != nil {
		return dropped, fmt.Errorf("count expired exposures: %w", err)
	}
	if old > 0 {
		stmt := "ALTER TABLE exposures DELETE WHERE exposed_at < ?"
		if c.opts.Cluster != "" {
			stmt = fmt.Sprintf("ALTER TABLE %s.%s%s DELETE WHERE exposed_at < ?", quoteIdent(c.opts.Database), quoteIdent("exposures"+localSuffix), onCluster(c.opts))
		}
		if err := c.conn.Exec(ctx, stmt, first); err != nil {
			return dropped, fmt.Errorf("delete expired exposures: %w", err)
		}
		c.opts.Logger.Info("clickhouse retention: exposures deleted", "database", c.opts.Database, "rows", old)
	}
	return dropped, nil
}

// dropMonths drops the monthly partitions of tables that ended on or before
// cutoff, and returns how many it dropped.
func (c *Client) dropMonths(ctx context.Context, tables []string, cutoff time.Time) (int, error) {
	dropped := 0
	for _, table := range tables {
		parts, err := c.partitions(ctx, table)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			month, err := time.Parse("200601", p)
			if err != nil {
				c.opts.Logger.Warn("clickhouse retention: partition is not a month, skipped", "table", table, "partition", p)
				continue
			}
			if month.AddDate(0, 1, 0).After(cutoff) {
				continue
			}
			// p is six digits (parsed above), so it is safe in the statement.
			stmt := fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", table, p)
			if c.opts.Cluster != "" {
				stmt = fmt.Sprintf("ALTER TABLE %s.%s%s DROP PARTITION %s", quoteIdent(c.opts.Database), quoteIdent(table+localSuffix), onCluster(c.opts), p)
			}
			if err := c.conn.Exec(ctx, stmt); err != nil {
				return dropped, fmt.Errorf("drop partition %s of %s: %w", p, table, err)
			}
			dropped++
			c.opts.Logger.Info("clickhouse retention: partition dropped", "database", c.opts.Database, "table", table, "partition", p)
		}
	}
	return dropped, nil
}

// partitions returns the distinct partitions with active parts of table (in
// cluster mode: of its local tables, on every server of the cluster).
func (c *Client) partitions(ctx context.Context, table string) ([]string, error) {
	parts, stored := "system.parts", table
	if c.opts.Cluster != "" {
		parts, stored = fmt.Sprintf("cluster('%s', system, parts)", c.opts.Cluster), table+localSuffix
	}
	rows, err := c.conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = ? AND table = ? AND active ORDER BY partition",
		c.opts.Database, stored)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("scan partitions of %s: %w", table, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	return out, nil
}
