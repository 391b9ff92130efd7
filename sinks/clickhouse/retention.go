package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// retainedTables are the tables DropExpired prunes; each is partitioned by
// toYYYYMM of a DateTime('UTC') column (the rollups: of their Date day).
var retainedTables = [...]string{"events", "colour_changes", "exposures", "colour_transitions_daily", "exposures_daily", "place_exposures"}

// DropExpired drops, from events, colour_changes, exposures and their rollups
// (colour_transitions_daily, exposures_daily, place_exposures), every monthly partition
// that lies wholly before now minus RetentionDays (its month ended on or before
// that instant), and returns how many partitions it dropped. It reads the
// partitions from system.parts. colours_current is never pruned.
//
// In cluster mode it reads the parts of every server (the cluster table
// function) and drops each partition ON CLUSTER from the local tables.
//
// ClickHouse refuses to drop a partition larger than the server's
// max_partition_size_to_drop (50 GB by default); raise it in the server config
// for bigger months.
func (c *Client) DropExpired(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UTC().AddDate(0, 0, -c.opts.RetentionDays)
	dropped := 0
	for _, table := range retainedTables {
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
