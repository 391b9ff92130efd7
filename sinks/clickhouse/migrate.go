package clickhouse

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds migrations/NNNN_name.sql. A file holds one or more
// statements, each ending with ';' (outside quotes); lines starting with "--"
// are comments and are not sent. Every statement must be
// idempotent on its own (IF NOT EXISTS), so a migration interrupted half-way can
// simply run again.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema migration.
type Migration struct {
	Version    uint32
	Name       string   // the file name without the version and ".sql"
	Statements []string // comment-free SQL, one statement each, no trailing ';'
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY version`

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	seen := map[uint32]string{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || len(num) != 4 || name == "" {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", n)
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", n, v, prev)
		}
		seen[uint32(v)] = n
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", n, err)
		}
		stmts := splitStatements(string(b))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s: no statements", n)
		}
		ms = append(ms, Migration{Version: uint32(v), Name: name, Statements: stmts})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// splitStatements drops "--" comment lines and splits on ';' outside
// single-quoted strings.
func splitStatements(sql string) []string {
	var b strings.Builder
	for line := range strings.Lines(sql) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
	}
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	text, start, quoted := b.String(), 0, false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\\':
			if quoted {
				i++ // skip the escaped byte
			}
		case '\'':
			quoted = !quoted
		case ';':
			if !quoted {
				add(text[start:i])
				start = i + 1
			}
		}
	}
	add(text[start:])
	return out
}

// Migrate applies, in version order, the embedded migrations not yet recorded
// in schema_migrations, recording each after all its statements succeed.
// Running it again applies nothing new. In cluster mode each statement runs
// ON CLUSTER, rewritten by clusterStatements, and schema_migrations is one
// table replicated to every server of the cluster.
func (c *Client) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	createMigrations := createSchemaMigrations
	if c.opts.Cluster != "" {
		createMigrations = smallTableSQL(c.opts, "schema_migrations", "version UInt32, name String, applied_at DateTime('UTC') DEFAULT now()", "version")
	}
	if err := c.conn.Exec(ctx, createMigrations); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := c.AppliedMigrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		for i, s := range m.Statements {
			stmts := []string{s}
			if c.opts.Cluster != "" {
				if stmts, err = clusterStatements(c.opts, s); err != nil {
					return fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
				}
			}
			for _, s := range stmts {
				if err := c.conn.Exec(ctx, s); err != nil {
					return fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
				}
			}
		}
		// A batch, not Exec of INSERT ... VALUES: 18.16 waits for a data block
		// after any INSERT over the native protocol.
		if err := c.insertColumns(ctx, "schema_migrations", "version, name", []any{[]uint32{m.Version}, []string{m.Name}}); err != nil {
			return fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		c.opts.Logger.Info("clickhouse migration applied", "database", c.opts.Database, "version", m.Version, "name", m.Name)
	}
	return nil
}

// AppliedMigrations returns the recorded migrations: version to name.
func (c *Client) AppliedMigrations(ctx context.Context) (map[uint32]string, error) {
	rows, err := c.conn.Query(ctx, "SELECT version, any(name) FROM schema_migrations GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]string{}
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, fmt.Errorf("scan schema_migrations: %w", err)
		}
		out[v] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return out, nil
}
