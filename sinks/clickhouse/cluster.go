package clickhouse

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode (Options.Cluster set) spreads each table of the migrations
// over the cluster's shards:
//
//   - NAME_local on every server (CREATE ... ON CLUSTER), the Replicated
//     variant of the migration's engine, its ZooKeeper path
//     /clickhouse/tables/CLUSTER/{shard}/DATABASE/NAME and replica {replica}
//     (macros of each server's config);
//   - NAME on every server, a Distributed table over NAME_local with the
//     migration's columns (and their comments), sharded by sipHash64 of the
//     first ORDER BY column: rows that ReplacingMergeTree may merge share
//     their whole sorting key, so they land on one shard, where FINAL and
//     merges see them together; and one person's rows stay on one shard.
//
// schema_migrations (and the demo marker) are small tables every server holds
// whole: one Replicated table per cluster, every server a replica
// ({shard}-{replica}), read locally.
//
// 18.16 refuses a Replicated table with column comments ("Table structure in
// ZooKeeper is too different"): the local tables carry none; the Distributed
// tables, which analysts query, keep them.

// localSuffix names a Distributed table's local table: events -> events_local.
const localSuffix = "_local"

// zkRoot is where the tables' ZooKeeper paths start.
const zkRoot = "/clickhouse/tables"

// createTableRE takes apart a migration's CREATE TABLE: name, column list,
// engine, engine arguments and the clauses after them.
var createTableRE = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*)\s*(\(.*\))\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)\(([^()]*)\)(.*)$`)

// orderByRE finds the first column of ORDER BY (a name, possibly in a tuple).
var orderByRE = regexp.MustCompile(`(?s)\bORDER BY\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)`)

// commentRE matches a column's COMMENT clause.
var commentRE = regexp.MustCompile(`\s+COMMENT\s+'(?:[^'\\]|\\.)*'`)

// dropTableRE matches a migration's DROP TABLE.
var dropTableRE = regexp.MustCompile(`(?s)^DROP TABLE IF EXISTS ([A-Za-z_][A-Za-z0-9_]*)$`)

// copyTableRE matches a migration's copy of a table into a new one
// (CREATE TABLE IF NOT EXISTS name ENGINE = ... AS SELECT ...), as 0005 keeps
// the rows of the table it replaces.
var copyTableRE = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS [A-Za-z_][A-Za-z0-9_]*\s+ENGINE\s*=.*\bAS SELECT\b`)

// createViewRE takes apart a migration's materialized view: name, target
// table and the SELECT.
var createViewRE = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*) TO ([A-Za-z_][A-Za-z0-9_]*) AS\s+(SELECT\b.*)$`)

// fromRE finds the tables a SELECT reads.
var fromRE = regexp.MustCompile(`\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)\b`)

// clusterStatements rewrites one migration statement for cluster mode: for a
// CREATE TABLE, the local Replicated table and the Distributed table over it;
// for a materialized view, the view on every server from the local source
// table into the local target table; for a DROP TABLE, the drop of both. A
// copy of a table's rows into a backup table (CREATE ... AS SELECT) is left
// out: cluster mode came with migration 0005, the first to copy, so a cluster
// database always reaches a copy in the same Migrate that created the table
// it copies, which is empty then.
func clusterStatements(o Options, stmt string) ([]string, error) {
	if copyTableRE.MatchString(stmt) {
		return nil, nil
	}
	if strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW") {
		s, err := clusterView(o, stmt)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	if d := dropTableRE.FindStringSubmatch(stmt); d != nil {
		db := quoteIdent(o.Database)
		return []string{
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(d[1]), onCluster(o)),
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, quoteIdent(d[1]+localSuffix), onCluster(o)),
		}, nil
	}
	m := createTableRE.FindStringSubmatch(stmt)
	if m == nil {
		return nil, fmt.Errorf("cluster mode handles only CREATE TABLE IF NOT EXISTS name (...) ENGINE = ...MergeTree(...), CREATE MATERIALIZED VIEW IF NOT EXISTS name TO table AS SELECT ... FROM table, DROP TABLE IF EXISTS name, and a copy CREATE ... AS SELECT: write this statement for clusters")
	}
	name, columns, engine, args, rest := m[1], m[2], m[3], strings.TrimSpace(m[4]), m[5]
	key := orderByRE.FindStringSubmatch(rest)
	if key == nil {
		return nil, fmt.Errorf("table %s: no ORDER BY column to shard by", name)
	}
	db, local := quoteIdent(o.Database), name+localSuffix
	path := fmt.Sprintf("%s/%s/{shard}/%s/%s", zkRoot, o.Cluster, o.Database, name)
	repArgs := fmt.Sprintf("'%s', '{replica}'", path)
	if args != "" {
		repArgs += ", " + args
	}
	localSQL := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s\n%s\nENGINE = Replicated%s(%s)%s",
		db, quoteIdent(local), onCluster(o), commentRE.ReplaceAllString(columns, ""), engine, repArgs, rest)
	distSQL := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s\n%s\nENGINE = Distributed('%s', '%s', '%s', sipHash64(%s))",
		db, quoteIdent(name), onCluster(o), columns, o.Cluster, o.Database, local, key[1])
	return []string{localSQL, distSQL}, nil
}

// clusterView rewrites CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS
// SELECT ... FROM s for a cluster: on every server (ON CLUSTER), v reads the
// inserts into s_local (each shard's part of an insert into the Distributed
// s) and writes into t_local, so each shard rolls up its own rows and the
// Distributed t merges the shards' states when read (-Merge combinators).
// The SELECT must read exactly one table.
func clusterView(o Options, stmt string) (string, error) {
	m := createViewRE.FindStringSubmatch(stmt)
	if m == nil {
		return "", fmt.Errorf("cluster mode handles only CREATE MATERIALIZED VIEW IF NOT EXISTS name TO table AS SELECT ...: write this statement for clusters")
	}
	name, target, sel := m[1], m[2], m[3]
	froms := fromRE.FindAllStringSubmatchIndex(sel, -1)
	if len(froms) != 1 {
		return "", fmt.Errorf("view %s: cluster mode needs a SELECT that reads one table, found %d FROM clauses", name, len(froms))
	}
	db := quoteIdent(o.Database)
	src := sel[froms[0][2]:froms[0][3]]
	sel = sel[:froms[0][2]] + db + "." + quoteIdent(src+localSuffix) + sel[froms[0][3]:]
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS\n%s",
		db, quoteIdent(name), onCluster(o), db, quoteIdent(target+localSuffix), sel), nil
}

// smallTableSQL is the CREATE statement of a small table every server holds
// whole (schema_migrations, the demo marker): a ReplacingMergeTree on one
// server; in cluster mode one Replicated table with every server a replica.
func smallTableSQL(o Options, name, columns, orderBy string) string {
	if o.Cluster == "" {
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s\n(%s)\nENGINE = ReplacingMergeTree()\nORDER BY %s", name, columns, orderBy)
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s\n(%s)\nENGINE = ReplicatedReplacingMergeTree('%s/%s/all/%s/%s', '{shard}-{replica}')\nORDER BY %s",
		quoteIdent(o.Database), quoteIdent(name), onCluster(o), columns, zkRoot, o.Cluster, o.Database, name, orderBy)
}

// stampedTables have an inserted_at column the writers fill in cluster mode.
var stampedTables = map[string]bool{"events": true, "colour_changes": true, "colours_current": true, "exposures": true,
	"area_designations": true, "policy_versions": true, "return_journeys": true, "override_audit": true, "override_alerts": true}
