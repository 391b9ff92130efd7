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

// demoMarker is the table that marks a database as created by a demo run
// (healthcode run --simulate); ResetDemoDatabase drops only databases that
// hold it with its row. (18.16 has no database comments.)
const demoMarker = "healthcode_demo"

// ResetDemoDatabase gives the demo an empty database of the options' name: it
// drops the database if a demo created it (every table in it: events, colour
// changes, current colours, exposures), creates it again and marks it as a
// demo's. A database of that name without the demo marker is refused, and
// nothing is touched.
func ResetDemoDatabase(ctx context.Context, o Options) error {
	if err := DropDemoDatabase(ctx, o); err != nil {
		return err
	}
	o.setDefaults()
	if err := createDatabase(ctx, o); err != nil {
		return err
	}
	conn, err := dial(ctx, o, o.Database)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, smallTableSQL(o, demoMarker, "created_at DateTime('UTC') DEFAULT now(), note String", "created_at")); err != nil {
		return fmt.Errorf("mark demo database %s: %w", o.Database, err)
	}
	c := &Client{opts: o, conn: conn, stamps: newRetryStamps()}
	if err := c.insertColumns(ctx, demoMarker, "note", []any{[]string{"created by healthcode run --simulate; the next demo run drops it"}}); err != nil {
		return fmt.Errorf("mark demo database %s: %w", o.Database, err)
	}
	return nil
}

// DropDemoDatabase drops the options' database, and everything in it, if a
// demo run created it (it holds the demo marker); if it exists without the
// marker, it refuses with an error and drops nothing. A database that does
// not exist is not an error.
func DropDemoDatabase(ctx context.Context, o Options) error {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	conn, err := dial(ctx, o, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	var exists, tables, markers uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", o.Database).Scan(&exists); err != nil {
		return fmt.Errorf("check demo database %s: %w", o.Database, err)
	}
	if exists == 0 {
		return nil
	}
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(name = ?) FROM system.tables WHERE database = ?", demoMarker, o.Database).Scan(&tables, &markers); err != nil {
		return fmt.Errorf("check demo database %s: %w", o.Database, err)
	}
	marked := false
	if markers > 0 {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+quoteIdent(o.Database)+"."+demoMarker).Scan(&rows); err != nil {
			return fmt.Errorf("check demo database %s: %w", o.Database, err)
		}
		marked = rows > 0
	}
	if !marked {
		return fmt.Errorf("database %s exists and was not created by a demo run: refusing to drop it; choose another --clickhouse-db or drop it yourself", o.Database)
	}
	o.Logger.Info("dropping the previous demo database and its tables", "database", o.Database, "tables", tables)
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(o.Database)+onCluster(o)); err != nil {
		return fmt.Errorf("drop demo database %s: %w", o.Database, err)
	}
	return nil
}
