package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// startPipelineWith is startPipeline under another policy.
func startPipelineWith(t *testing.T, brokers []string, ch clickhouse.Options, pol *scoring.Policy) *harness {
	t.Helper()
	o := pipeline.Options{Kafka: kafka.Config{Brokers: brokers}, Partitions: 4, Policy: pol, ClickHouse: ch,
		Clock: pipeline.ClockEvent, SinkLinger: 50 * time.Millisecond}
	o.Decoder.Key = testKey
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, brokers: brokers, ch: ch, cancel: cancel, done: make(chan error, 1), p: p}
	go func() { h.done <- p.Run(ctx) }()
	return h
}

// TestEndToEnd_Journeys runs a simulated province with returnees through the
// whole pipeline under the international policy (kfake, a real ClickHouse)
// and scores return_journeys against the simulator's journey truth: every
// declared returnee has a row with the truth's status and other-flight mark,
// no one else has one (accuracy 1.0). Undeclared arrivals carry the
// arrival-undeclared rule. Then each query of docs/sql.md's return-journey
// section runs against the tables and answers what the truth says.
func TestEndToEnd_Journeys(t *testing.T) {
	if testing.Short() {
		t.Skip("journeys end-to-end test skipped in -short mode")
	}
	ctx := context.Background()
	pol, err := policies.Load("international")
	if err != nil {
		t.Fatal(err)
	}
	brokers, chOpts := startParts(t)
	h := startPipelineWith(t, brokers, chOpts, pol)
	defer h.stop()
	topics := map[sources.Stream]string{}
	for _, s := range sources.Streams {
		topics[s] = s.DefaultTopic()
	}
	prod := pipeline.NewUpstreamProducer(kafkaClient(t, brokers), topics)
	var journeys bytes.Buffer
	var clock time.Time // the latest occurred_at: the pipeline's event clock at the end
	cfg := sim.Config{People: 4000, Days: 6, Seed: 7, Key: testKey, Journeys: &journeys, Policy: pol}
	sum, err := sim.Run(ctx, cfg, func(m sim.Message) error {
		return prod.Add(ctx, m.Stream, m.Key, m.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h.drain(ctx)
	truth, err := sim.ReadJourneys(&journeys)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Conn().QueryRow(ctx, "SELECT max(occurred_at) FROM events WHERE kind != 'exposure'").Scan(&clock); err != nil {
		t.Fatal(err)
	}

	// The matching, scored.
	got := map[string]string{}
	rows, err := c.Conn().Query(ctx, "SELECT toString(person_key), toString(status), other_flight FROM return_journeys FINAL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, st string
		var other uint8
		if err := rows.Scan(&k, &st, &other); err != nil {
			t.Fatal(err)
		}
		got[k] = fmt.Sprintf("%s other=%v", st, other == 1)
	}
	rows.Close()
	right, declared := 0, 0
	byStatus := map[string]int{}
	var undeclared []string
	for _, jt := range truth {
		if !jt.Declared {
			undeclared = append(undeclared, jt.PersonKey)
			if g, ok := got[jt.PersonKey]; ok {
				t.Errorf("undeclared returnee %s has a journey row: %s", jt.PersonKey, g)
			}
			continue
		}
		declared++
		byStatus[jt.Status]++
		want := fmt.Sprintf("%s other=%v", jt.Status, jt.OtherFlight)
		if got[jt.PersonKey] == want {
			right++
		} else if declared-right <= 10 {
			t.Errorf("returnee %s (%+v): row %q, want %q", jt.PersonKey, jt, got[jt.PersonKey], want)
		}
	}
	accuracy := float64(right) / float64(max(declared, 1))
	t.Logf("%d returnees (%d declared), %d rows; by status %v; accuracy %.4f; %d upstream messages",
		sum.Returnees, declared, len(got), byStatus, accuracy, prod.Sent())
	if accuracy != 1 || len(got) != declared {
		t.Errorf("journey accuracy %.4f over %d declared, %d rows; want 1.0 and one row each", accuracy, declared, len(got))
	}
	for _, st := range []string{"declared", "landed", "quarantine"} {
		if byStatus[st] == 0 {
			t.Errorf("no journey ends %s", st)
		}
	}
	// Undeclared arrivals: their own rule, shown in the colour.
	var missing uint64
	if err := c.Conn().QueryRow(ctx, `SELECT count() FROM colours_current FINAL WHERE toString(person_key) IN ('`+strings.Join(undeclared, "', '")+
		`') AND position(reasons, '"arrival-undeclared"') = 0`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if len(undeclared) == 0 || missing != 0 {
		t.Errorf("%d of %d undeclared arrivals lack the arrival-undeclared rule", missing, len(undeclared))
	}

	// docs/sql.md, run as written but for now().
	queries := journeyQueries(t)
	run := func(name string, now time.Time) [][]string {
		t.Helper()
		q, ok := queries[name]
		if !ok {
			t.Fatalf("docs/sql.md has no query %q (has %v)", name, mapsKeys(queries))
		}
		q = strings.ReplaceAll(q, "now()", fmt.Sprintf("toDateTime('%s', 'UTC')", now.UTC().Format("2006-01-02 15:04:05")))
		rows, err := c.Conn().Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer rows.Close()
		var out [][]string
		cols := len(rows.Columns())
		for rows.Next() {
			vals := make([]any, cols)
			for i, ct := range rows.ColumnTypes() {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			line := make([]string, cols)
			for i, v := range vals {
				line[i] = fmt.Sprint(reflect.ValueOf(v).Elem().Interface())
			}
			out = append(out, line)
		}
		return out
	}
	firstCol := func(rows [][]string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r[0])
		}
		sort.Strings(out)
		return out
	}
	china := time.FixedZone("CST", 8*3600)
	// Tomorrow: the day of the earliest journey planned after the run.
	var tomorrow time.Time
	for _, jt := range truth {
		if jt.Kind == "future" && (tomorrow.IsZero() || jt.PlannedArrival.Before(tomorrow)) {
			tomorrow = jt.PlannedArrival
		}
	}
	if tomorrow.IsZero() {
		t.Fatal("no journey planned after the run")
	}
	now := tomorrow.In(china).AddDate(0, 0, -1)
	var wantTomorrow, wantOverdue, wantElsewhere []string
	for _, jt := range truth {
		switch {
		case jt.Declared && (jt.Status == "declared" || jt.Status == "boarded") &&
			jt.PlannedArrival.In(china).Format("2006-01-02") == tomorrow.In(china).Format("2006-01-02"):
			wantTomorrow = append(wantTomorrow, jt.PersonKey)
		}
		if jt.Declared && jt.Status == "declared" && jt.PlannedArrival.Before(clock) {
			wantOverdue = append(wantOverdue, jt.PersonKey)
		}
		if jt.Declared && jt.Status == "landed" {
			wantElsewhere = append(wantElsewhere, jt.PersonKey)
		}
	}
	for _, w := range [][]string{wantTomorrow, wantOverdue, wantElsewhere} {
		sort.Strings(w)
	}
	if got := firstCol(run("Who lands tomorrow, at which port, going where", now)); len(wantTomorrow) == 0 || !slices.Equal(got, wantTomorrow) {
		t.Errorf("lands tomorrow (%s): %v, want %v", now.Format(time.RFC3339), got, wantTomorrow)
	}
	n := 0
	for _, r := range run("How many land tomorrow, by port and destination", now) {
		var k int
		fmt.Sscan(r[2], &k)
		n += k
	}
	if n != len(wantTomorrow) {
		t.Errorf("land tomorrow by port: %d, want %d", n, len(wantTomorrow))
	}
	if got := firstCol(run("Who declared and has not boarded", clock)); len(wantOverdue) == 0 || !slices.Equal(got, wantOverdue) {
		t.Errorf("declared, not boarded: %v, want %v", got, wantOverdue)
	}
	if got := firstCol(run("Who landed elsewhere and has not reached the province", clock)); len(wantElsewhere) == 0 || !slices.Equal(got, wantElsewhere) {
		t.Errorf("landed elsewhere: %v, want %v", got, wantElsewhere)
	}
	total := 0
	for _, r := range run("Journeys by status", clock) {
		var k int
		fmt.Sscan(r[1], &k)
		total += k
		if r[0] == "" || byStatus[r[0]] != k {
			t.Errorf("journeys by status: %s %d, truth %d", r[0], k, byStatus[r[0]])
		}
	}
	t.Logf("docs/sql.md: %d land tomorrow (%s), %d declared and not boarded, %d landed elsewhere, %d journeys",
		len(wantTomorrow), tomorrow.In(china).Format("2006-01-02"), len(wantOverdue), len(wantElsewhere), total)
	assertNoJourneyIDs(t, brokers)
}

// journeyQueries returns the queries of docs/sql.md's "Return journeys"
// section by their headings.
func journeyQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/sql.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Return journeys\n")
	if !ok {
		t.Fatal("docs/sql.md has no Return journeys section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	out := map[string]string{}
	re := regexp.MustCompile("(?s)\n### ([^\n]+)\n.*?```sql\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func mapsKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assertNoJourneyIDs: no resident ID number of the simulated people reaches
// hc.journeys (an 18-character run with a valid GB 11643 check and birth
// date; the pseudonymous keys are hex and fail it). return_journeys holds the
// same fields.
func assertNoJourneyIDs(t *testing.T, brokers []string) {
	t.Helper()
	idRE := regexp.MustCompile(`[1-8][0-9]{16}[0-9X]`)
	msgs := readAll(t, brokers, "hc.journeys")
	if len(msgs) == 0 {
		t.Fatal("hc.journeys is empty")
	}
	for _, m := range msgs {
		for _, s := range idRE.FindAllString(string(m.Value), -1) {
			if sources.CheckResidentID(s) == nil {
				t.Fatalf("a resident ID number in hc.journeys")
			}
		}
	}
}
