package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

// sqlBlockRE finds the ```sql blocks of a Markdown file.
var sqlBlockRE = regexp.MustCompile("(?s)```sql\n(.*?)```")

// TestSQLDocs runs every query of docs/sql.md against the database of a
// small simulated province run through the whole pipeline (the end-to-end
// section's path: embedded broker, every stage, the sink into a fresh
// database), with the braces filled in from that data, and checks that each
// returns rows.
func TestSQLDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	// The return-journey queries use now(), and pipeline's
	// TestEndToEnd_Journeys runs them against the simulator's journey truth,
	// with now() set to a time of that run: here, the queries before them.
	epi, _, _ := strings.Cut(string(doc), "\n## Return journeys\n")
	blocks := sqlBlockRE.FindAllStringSubmatch(epi, -1)
	if len(blocks) < 10 {
		t.Fatalf("docs/sql.md has %d sql blocks; the questions need more", len(blocks))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, db := demoDatabase(t, ctx)

	fill := demoValues(t, ctx, conn, db)
	t.Logf("filled in: %v", fill)
	for i, b := range blocks {
		q := b[1]
		for k, v := range fill {
			q = strings.ReplaceAll(q, "{"+k+"}", v)
		}
		if strings.ContainsAny(q, "{}") {
			t.Errorf("query %d keeps a placeholder this test does not fill:\n%s", i+1, q)
			continue
		}
		n, err := rowsOf(ctx, conn, q)
		if err != nil {
			t.Errorf("query %d fails: %v\n%s", i+1, err, q)
			continue
		}
		if n == 0 {
			t.Errorf("query %d returns no rows (or only zeros) on the demo data:\n%s", i+1, q)
		}
		t.Logf("query %d: %d rows", i+1, n)
	}
}

// demoDatabase runs the end-to-end section at a small size for three
// simulated weeks and returns a connection whose default database holds
// what the pipeline wrote. With HEALTHCODE_SQLDOCS_DB set (to "healthcode"
// after make run), it uses that database on HEALTHCODE_CLICKHOUSE_ADDR
// instead, as it is, and drops nothing.
func demoDatabase(t *testing.T, ctx context.Context) (driver.Conn, string) {
	t.Helper()
	if db := os.Getenv("HEALTHCODE_SQLDOCS_DB"); db != "" {
		c, err := clickhouse.Open(ctx, clickhouse.Options{Addr: os.Getenv("HEALTHCODE_CLICKHOUSE_ADDR"), Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.Conn(), db
	}
	ch := chtest.Start(t)
	o := &Options{Quick: true, Out: t.TempDir(), ClickHouse: ch, E2EPeople: 3000, E2EDays: 21,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := EndToEnd(ctx, o, NewReport()); err != nil {
		t.Fatalf("EndToEnd: %v", err)
	}
	co := ch
	co.Database = o.E2EDatabase
	c, err := clickhouse.Open(ctx, co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Conn().Exec(dctx, "DROP DATABASE IF EXISTS "+co.Database); err != nil {
			t.Log(err)
		}
		c.Close()
	})
	return c.Conn(), co.Database
}

// demoValues picks the values an epidemiologist would type: the last day
// someone turned red, the venue with the most exposures and the hour around
// its first one, and the case with the most secondary contacts behind it.
func demoValues(t *testing.T, ctx context.Context, conn driver.Conn, db string) map[string]string {
	t.Helper()
	var day time.Time
	var venue, cas string
	var first time.Time
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{"SELECT max(day) FROM colour_transitions_daily WHERE to_colour = 'red' AND from_colour != 'red'", []any{&day}},
		{"SELECT place, minMerge(first_at) AS f FROM place_exposures WHERE place LIKE 'v:%' GROUP BY place ORDER BY uniqMerge(exposures) DESC, place LIMIT 1", []any{&venue, &first}},
		{"SELECT c.source_key FROM (SELECT toString(exposed_key) AS contact, source_key FROM exposures FINAL WHERE kind = 'close_contact') AS c " +
			"ALL INNER JOIN (SELECT source_key AS contact FROM exposures FINAL WHERE kind = 'secondary_contact') AS s USING contact " +
			"GROUP BY c.source_key ORDER BY count() DESC, c.source_key LIMIT 1", []any{&cas}},
	} {
		if err := conn.QueryRow(ctx, q.sql).Scan(q.dest...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if day.IsZero() || venue == "" || cas == "" {
		t.Fatalf("the demo data lacks a red day (%v), a venue with exposures (%q) or a chain to secondary contacts (%q)", day, venue, cas)
	}
	ts := func(t time.Time) string {
		return fmt.Sprintf("toDateTime('%s', 'UTC')", t.UTC().Format("2006-01-02 15:04:05"))
	}
	return map[string]string{
		"day":   fmt.Sprintf("toDate('%s')", day.Format("2006-01-02")),
		"venue": "'" + venue + "'",
		"from":  ts(first.Add(-30 * time.Minute)),
		"to":    ts(first.Add(30 * time.Minute)),
		"case":  "'" + cas + "'",
	}
}

// rowsOf runs q and counts its rows that hold something: a row whose
// columns are all zero or empty (count() over nothing) does not count.
func rowsOf(ctx context.Context, conn driver.Conn, q string) (int, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	n := 0
	for rows.Next() {
		dest := make([]any, len(cts))
		for i, ct := range cts {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		for _, d := range dest {
			if !reflect.ValueOf(d).Elem().IsZero() {
				n++
				break
			}
		}
	}
	return n, rows.Err()
}
