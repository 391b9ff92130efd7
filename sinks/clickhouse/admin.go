package clickhouse

import (
	"context"
	"fmt"
)

// DropDatabase drops the options' database if it exists, with every table in
// it (on every server of the cluster in cluster mode). Tests and benchmarks
// clean up with it; the demo uses ResetDemoDatabase, which refuses databases
// it did not create.
func DropDatabase(ctx context.Context, o Options) error {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	conn, err := dial(ctx, o, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(o.Database)+onCluster(o)); err != nil {
		return fmt.Errorf("drop database %s: %w", o.Database, err)
	}
	return nil
}

// Count returns the number of rows of a table of the database (after merges
// of duplicates where the engine replaces: with FINAL when final is set).
func (c *Client) Count(ctx context.Context, table string, final bool) (uint64, error) {
	if !identRE.MatchString(table) {
		return 0, fmt.Errorf("count: bad table name %q", table)
	}
	q := "SELECT count() FROM " + quoteIdent(table)
	if final {
		q += " FINAL"
	}
	var n uint64
	if err := c.conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// ColourCount is how many persons currently have a colour.
type ColourCount struct {
	Colour string
	Level  uint8
	People uint64
}

// ColourCounts returns the current colour of every person, counted by colour,
// most severe first.
func (c *Client) ColourCounts(ctx context.Context) ([]ColourCount, error) {
	rows, err := c.conn.Query(ctx, `
SELECT colour, level, count() AS people
FROM (SELECT person_key, argMax(colour, version) AS colour, argMax(level, version) AS level
      FROM colours_current GROUP BY person_key)
GROUP BY colour, level ORDER BY level DESC`)
	if err != nil {
		return nil, fmt.Errorf("colour counts: %w", err)
	}
	defer rows.Close()
	var out []ColourCount
	for rows.Next() {
		var cc ColourCount
		if err := rows.Scan(&cc.Colour, &cc.Level, &cc.People); err != nil {
			return nil, fmt.Errorf("colour counts: %w", err)
		}
		out = append(out, cc)
	}
	return out, rows.Err()
}
