package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// The batch alternative (section 4 of the report): the domestic policy's
// colours computed by SQL in ClickHouse over the events table alone, as a
// big-data centre without a streaming engine would run it, timed, and
// compared with colours_current, what the streaming pipeline decided.
//
// The statement is generated from the policy file, rule by rule, so it
// follows the same numbers (durations, tests, fever threshold) the engine
// uses. It decides every rule: the arrival rules (facts arrival_high and
// arrival_medium) from each person's two latest arrivals from abroad in
// events and the country designations in area_designations (the sink writes
// hc.area-risk there), in force at arrived_at as the engine judges them.
// Region and H3 designations need no join: contact tracing turns every stay
// they reach into an area exposure event (sub 4 or 5), which is in events.

// BatchTable is the table BatchSQL materialises the colours into, in the
// end-to-end database.
const BatchTable = "sql_colours"

// factConds are the events-table conditions that set each fact the SQL can
// compute, in terms of the columns of batchEventCols; t is occurred_at in unix
// seconds. They mirror scoring.Engine.applyFacts.
func factConds(p *scoring.Policy) map[scoring.Fact]string {
	fever := int(math.Round(p.Params.FeverCelsius * 10))
	return map[scoring.Fact]string{
		scoring.FactPositivePCR: fmt.Sprintf("kind = 'test' AND sub = %d AND result = %d", scoring.TestPCR, scoring.ResultPositive),
		scoring.FactSuspect: fmt.Sprintf("(kind = 'test' AND sub = %d AND result = %d) OR "+
			"(kind = 'declaration' AND (bitAnd(symptoms, %d) != 0 OR (temperature_c != 0 AND round(temperature_c * 10) >= %d)))",
			scoring.TestAntigen, scoring.ResultPositive, scoring.SymptomFever, fever),
		scoring.FactCloseContact:     exposureCond(scoring.ExposureClose),
		scoring.FactSecondaryContact: exposureCond(scoring.ExposureSecondary),
		scoring.FactCompanion:        exposureCond(scoring.ExposureCompanion),
		scoring.FactAreaHigh:         exposureCond(scoring.ExposureAreaHigh),
		scoring.FactAreaMedium:       exposureCond(scoring.ExposureAreaMedium),
		scoring.FactArrivalAbroad:    abroadCond,
	}
}

// abroadCond is a flight arrival from abroad, as the engine counts one.
const abroadCond = "kind = 'arrival' AND length(country) = 3 AND country != 'CHN'"

func exposureCond(k scoring.ExposureKind) string {
	return fmt.Sprintf("kind = 'exposure' AND sub = %d", k)
}

// allFacts lists every fact a rule may name, in order.
func allFacts() []scoring.Fact {
	var fs []scoring.Fact
	for f := scoring.FactPositivePCR; f <= scoring.FactArrivalAbroad; f++ {
		fs = append(fs, f)
	}
	return fs
}

// batchQuery is the generated statement.
type batchQuery struct {
	SQL string
}

// arrivalFacts are the facts the statement takes from arrivalsSQL.
var arrivalFacts = map[scoring.Fact]bool{scoring.FactArrivalHigh: true, scoring.FactArrivalMedium: true}

// arrivalsSQL gives, per person with an arrival from abroad, the facts
// arrival_high and arrival_medium as the engine derives them when deciding:
// of the person's two latest arrivals from abroad (newest first; the same
// instant and country once), the latest whose country was designated high
// (medium) at arrived_at. A country's designation is in force from its
// valid_from until the earlier of its valid_until and the next designation's
// valid_from; of two with one start, the larger event_id (scoring.Areas).
func arrivalsSQL(db string) string {
	periods := "SELECT code AS country, arrayMap(x -> tupleElement(x, 1), s) AS c_froms, arrayMap(x -> tupleElement(x, 3), s) AS c_levels, " +
		"arrayMap(i -> if(tupleElement(s[i], 2) != 0 AND (i = length(s) OR tupleElement(s[i], 2) < tupleElement(s[i + 1], 1)), tupleElement(s[i], 2), " +
		"if(i = length(s), toUInt32(0), tupleElement(s[i + 1], 1))), arrayEnumerate(s)) AS c_ends " +
		"FROM (SELECT code, arraySort(groupArray((f, u, l))) AS s FROM (" +
		"SELECT code, toUInt32(valid_from) AS f, toUInt32(argMax(valid_until, event_id)) AS u, toUInt8(argMax(level, event_id)) AS l " +
		"FROM " + db + ".area_designations WHERE area_kind = 'country' GROUP BY code, f) GROUP BY code)"
	latest := "SELECT person_key, tupleElement(a, 1) AS at, tupleElement(a, 2) AS country FROM (" +
		"SELECT person_key, arraySlice(arrayReverseSort(x -> tupleElement(x, 1), groupUniqArray((toUInt32(occurred_at), country))), 1, 2) AS arr " +
		"FROM " + db + ".events WHERE " + abroadCond + " AND occurred_at > 0 GROUP BY person_key) ARRAY JOIN arr AS a"
	return fmt.Sprintf("SELECT person_key, toUInt32(maxIf(at, lvl = %d)) AS f_%s, toUInt32(maxIf(at, lvl = %d)) AS f_%s FROM ("+
		"SELECT person_key, at, arrayElement(c_levels, arrayFirstIndex((f, e) -> f <= at AND (e = 0 OR e > at), c_froms, c_ends)) AS lvl "+
		"FROM (%s) AS arrivals ANY LEFT JOIN (%s) AS periods USING country) GROUP BY person_key",
		scoring.RiskHigh, scoring.FactArrivalHigh, scoring.RiskMedium, scoring.FactArrivalMedium, latest, periods)
}

// secs is a duration in whole seconds, as the engine counts it.
func secs(d scoring.Duration) int64 { return int64(d.Std() / time.Second) }

// buildBatchQuery returns the CREATE TABLE ... AS SELECT that computes every
// person's colour under p from db.events into db.table, each person at the
// instant clock: an SQL expression of Int64 unix seconds that may use part,
// the person's events.kafka_partition. It runs on ClickHouse 18.16: no window functions, no WITH
// subqueries; one GROUP BY person_key over events, then per-person
// arithmetic on unix seconds. The columns written: person_key, level, colour,
// rules (the ids of the active rules at that level, as an update's reasons).
func buildBatchQuery(p *scoring.Policy, db, table, clock string) batchQuery {
	conds := factConds(p)
	var q batchQuery

	// Inner: one row of facts per person.
	var agg []string
	for _, f := range allFacts() {
		if c, ok := conds[f]; ok {
			agg = append(agg, fmt.Sprintf("maxIf(t, %s) AS f_%s", c, f))
		}
	}
	negCond := fmt.Sprintf("kind = 'test' AND sub = %d AND result = %d", scoring.TestPCR, scoring.ResultNegative)
	// The latest override wins (ties: the smallest event id); levels the
	// policy lacks are refused by the engine.
	ovCond := fmt.Sprintf("kind = 'override' AND level < %d", len(p.Colours))
	ovKey := "(toInt64(0) - toInt64(t), event_id)"
	agg = append(agg,
		"any(kafka_partition) AS part",
		fmt.Sprintf("groupUniqArrayIf(t, %s) AS negs", negCond),
		fmt.Sprintf("argMinIf(toUInt32(ended_at), %s, %s) AS ov_until", ovKey, ovCond),
		fmt.Sprintf("argMinIf(level, %s, %s) AS ov_level", ovKey, ovCond),
	)
	inner := "SELECT person_key, " + strings.Join(agg, ",\n  ") +
		"\nFROM (SELECT person_key, kind, sub, result, level, symptoms, temperature_c, country, event_id, ended_at, kafka_partition, " +
		"toUInt32(occurred_at) AS t FROM " + db + ".events WHERE occurred_at > 0)\nGROUP BY person_key"
	inner = "SELECT * FROM (" + inner + ") AS facts\nANY LEFT JOIN (" + arrivalsSQL(db) + ") AS arrival_facts USING person_key"

	// Middle: the latest negative PCR (n1) and the latest one at least
	// negative_apart before it (nq): "two negatives after A, apart" holds
	// exactly when nq > A.
	middle := fmt.Sprintf("SELECT *, arrayReduce('max', negs) AS n1, "+
		"arrayReduce('max', arrayFilter(x -> x + %d <= n1, negs)) AS nq FROM (%s)", secs(p.Params.NegativeApart), inner)

	// Outer: each rule's activity at now, as scoring's decide.
	nowS := "clock"
	actives := []string{"toInt64(" + clock + ") AS clock"}
	var levels, tops []string
	for i := range p.Rules {
		r := &p.Rules[i]
		if _, ok := conds[r.Fact]; !ok && !arrivalFacts[r.Fact] {
			panic(fmt.Sprintf("batch sql: fact %s has no SQL", r.Fact)) // every fact of scoring has one
		}
		a := fmt.Sprintf("toInt64(f_%s)", r.Fact)
		parts := []string{a + " != 0"}
		if r.From > 0 {
			parts = append(parts, fmt.Sprintf("%s >= %s + %d", nowS, a, secs(r.From)))
		}
		timeDone := fmt.Sprintf("(%s >= %s + %d)", nowS, a, secs(r.For))
		var tests string
		if r.Tests != nil {
			n := "toInt64(n1)"
			if r.Tests.NegativePCR == 2 {
				n = "toInt64(nq)"
			}
			tests = fmt.Sprintf("(%s > %s AND %s >= %s + %d)", n, a, n, a, secs(r.Tests.After))
		}
		var cleared string
		switch r.Clear {
		case scoring.ClearTime:
			cleared = timeDone
		case scoring.ClearTests:
			cleared = tests
		case scoring.ClearTimeAndTests:
			cleared = timeDone + " AND " + tests
		case scoring.ClearTimeOrTests:
			cleared = timeDone + " OR " + tests
		}
		parts = append(parts, "NOT ("+cleared+")")
		name := fmt.Sprintf("r%d", i)
		actives = append(actives, fmt.Sprintf("(%s) AS %s", strings.Join(parts, " AND "), name))
		levels = append(levels, fmt.Sprintf("if(%s, %d, 0)", name, r.Level()))
		tops = append(tops, fmt.Sprintf("if(%s AND rule_level = %d, '%s', '')", name, r.Level(), r.ID))
	}
	maxLevel := len(p.Colours) - 1
	colours := make([]string, len(p.Colours))
	for i, c := range p.Colours {
		colours[i] = "'" + c + "'"
	}
	override := fmt.Sprintf("toInt64(ov_until) > %s", nowS)
	outer := "SELECT person_key,\n  " +
		strings.Join(append(actives,
			fmt.Sprintf("toUInt8(arrayReduce('max', [0, %s])) AS rule_level", strings.Join(levels, ", ")),
			override+" AS overridden",
			fmt.Sprintf("toUInt8(if(overridden, least(ov_level, %d), rule_level)) AS level", maxLevel),
			fmt.Sprintf("arrayElement([%s], level + 1) AS colour", strings.Join(colours, ", ")),
			fmt.Sprintf("if(overridden, ['override'], arrayFilter(x -> x != '', [%s])) AS rules", strings.Join(tops, ", ")),
		), ",\n  ") +
		"\nFROM (" + middle + ")"
	q.SQL = "CREATE TABLE " + db + "." + table +
		" ENGINE = MergeTree() ORDER BY person_key AS\nSELECT person_key, level, colour, rules, toDateTime(clock) AS decided_at FROM (" + outer + ")"
	return q
}

// batchPair is one cell of the agreement breakdown.
type batchPair struct {
	SQL, Stream string // colour; "" when the person is missing on that side
	Persons     uint64
	SameRules   uint64 // of which the reasons' rule ids agree too
}

// batchResult is what runBatchSQL measured.
type batchResult struct {
	Now       time.Time            // the highest occurred_at in events
	Clocks    map[uint32]time.Time // the event clock of each person-events partition, as the run had it
	Took      time.Duration        // finding the clocks and the statement
	Query     batchQuery
	Pairs     []batchPair
	OtherPols uint64 // colours_current rows decided by another policy
	// AtNow is the comparison of colours decided at Now for everyone
	// (table BatchTable_at_now, not timed).
	AtNow []batchPair
}

// totals sums the breakdown.
func (b *batchResult) totals() batchTotals { return totalsOf(b.Pairs) }

// batchTotals sums the breakdown.
type batchTotals struct {
	Persons, Disagree uint64 // every person
	SameRules         uint64 // persons agreeing in colour and in their reasons' rules
}

func totalsOf(pairs []batchPair) batchTotals {
	var t batchTotals
	for _, p := range pairs {
		t.Persons += p.Persons
		if p.SQL != p.Stream {
			t.Disagree += p.Persons
		} else {
			t.SameRules += p.SameRules
		}
	}
	return t
}

// runBatchSQL computes every person's colour under p from db.events into
// db.BatchTable, timing it, then compares the result with
// db.colours_current. Each person is decided at the event clock of their
// person-events partition as the run had it: the highest occurred_at among
// the partition's events (exposures included: the engine's clock moves with
// every event it applies) and the upstream clock every partition learns from
// ticks, the highest occurred_at of the events that are not exposures.
// Events written without Kafka metadata all count as partition 0. For
// comparison it also decides everyone at the single instant Now, the highest
// occurred_at in events, into db.BatchTable_at_now (untimed).
func runBatchSQL(ctx context.Context, conn driver.Conn, p *scoring.Policy, db string) (*batchResult, error) {
	atNow := BatchTable + "_at_now"
	for _, t := range []string{BatchTable, atNow} {
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+db+"."+t); err != nil {
			return nil, fmt.Errorf("drop %s: %w", t, err)
		}
	}
	res := &batchResult{Clocks: map[uint32]time.Time{}}
	start := time.Now()
	rows, err := conn.Query(ctx, "SELECT kafka_partition, toUInt32(max(occurred_at)), toUInt32(maxIf(occurred_at, kind != 'exposure')) "+
		"FROM "+db+".events GROUP BY kafka_partition")
	if err != nil {
		return nil, fmt.Errorf("event clocks: %w", err)
	}
	maxes := map[uint32]uint32{}
	var now, upstream uint32
	for rows.Next() {
		var part, hi, up uint32
		if err := rows.Scan(&part, &hi, &up); err != nil {
			rows.Close()
			return nil, fmt.Errorf("event clocks: %w", err)
		}
		maxes[part] = hi
		now, upstream = max(now, hi), max(upstream, up)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event clocks: %w", err)
	}
	if now == 0 {
		return nil, fmt.Errorf("event clocks: %s.events is empty", db)
	}
	parts := make([]uint32, 0, len(maxes))
	for part := range maxes {
		parts = append(parts, part)
	}
	slices.Sort(parts)
	from, to := make([]string, len(parts)), make([]string, len(parts))
	for i, part := range parts {
		c := max(maxes[part], upstream)
		res.Clocks[part] = time.Unix(int64(c), 0).UTC()
		from[i], to[i] = fmt.Sprint(part), fmt.Sprint(c)
	}
	clock := fmt.Sprintf("transform(toUInt64(part), [%s], [%s], %d)", strings.Join(from, ", "), strings.Join(to, ", "), now)
	res.Query = buildBatchQuery(p, db, BatchTable, clock)
	if err := conn.Exec(ctx, res.Query.SQL); err != nil {
		return nil, fmt.Errorf("batch colours: %w", err)
	}
	res.Took = time.Since(start)
	res.Now = time.Unix(int64(now), 0).UTC()

	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT argMax(policy, version) AS pol FROM "+db+
		".colours_current GROUP BY person_key) WHERE pol != ?", p.Stamp()).Scan(&res.OtherPols); err != nil {
		return nil, fmt.Errorf("stream policies: %w", err)
	}
	if res.Pairs, err = compareStream(ctx, conn, db, BatchTable); err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, buildBatchQuery(p, db, atNow, fmt.Sprint(now)).SQL); err != nil {
		return nil, fmt.Errorf("batch colours at now: %w", err)
	}
	if res.AtNow, err = compareStream(ctx, conn, db, atNow); err != nil {
		return nil, err
	}
	return res, nil
}

// compareStream breaks the persons of db.table and db.colours_current down
// by (SQL colour, stream colour).
func compareStream(ctx context.Context, conn driver.Conn, db, table string) ([]batchPair, error) {
	// Persons on one side only get the join's defaults: '' and 0.
	cmp := "SELECT sql_colour, stream_colour, count() AS persons, " +
		"sum(arraySort(rules) = arraySort(stream_rules)) AS same_rules FROM (" +
		"SELECT person_key, colour AS sql_colour, rules FROM " + db + "." + table +
		") ALL FULL OUTER JOIN (" +
		"SELECT person_key, argMax(colour, version) AS stream_colour, " +
		"extractAll(argMax(reasons, version), '\"rule\":\"([^\"]+)\"') AS stream_rules FROM " + db +
		".colours_current GROUP BY person_key) USING person_key " +
		"GROUP BY sql_colour, stream_colour ORDER BY persons DESC, sql_colour, stream_colour"
	rows, err := conn.Query(ctx, cmp)
	if err != nil {
		return nil, fmt.Errorf("compare %s with colours_current: %w", table, err)
	}
	defer rows.Close()
	var out []batchPair
	for rows.Next() {
		var bp batchPair
		if err := rows.Scan(&bp.SQL, &bp.Stream, &bp.Persons, &bp.SameRules); err != nil {
			return nil, fmt.Errorf("scan comparison: %w", err)
		}
		out = append(out, bp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read comparison: %w", err)
	}
	return out, nil
}

// scanSeconds times a full scan of db.events (SELECT count() reading every
// row's person_key), the baseline when no end-to-end time is in the report.
func scanSeconds(ctx context.Context, conn driver.Conn, db string) (float64, error) {
	start := time.Now()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count(person_key) FROM "+db+".events").Scan(&n); err != nil {
		return 0, fmt.Errorf("scan events: %w", err)
	}
	return time.Since(start).Seconds(), nil
}

// BatchSQL is section 4: the domestic policy's colours computed by one SQL
// statement over the events table of the end-to-end database
// (o.E2EDatabase, filled by EndToEnd), timed (sql_batch_seconds), and
// compared with the stream's colours_current (sql_agrees, sql_persons,
// sql_disagree, and the breakdown in the note). It drops o.E2EDatabase when
// done.
func BatchSQL(ctx context.Context, o *Options, r *Report) error {
	o.SetDefaults()
	if o.E2EDatabase == "" {
		return fmt.Errorf("batch sql: no end-to-end database (EndToEnd fills it)")
	}
	p, err := policies.Load("domestic")
	if err != nil {
		return fmt.Errorf("batch sql: %w", err)
	}
	co := o.ClickHouse
	co.Database = o.E2EDatabase
	c, err := clickhouse.Open(ctx, co)
	if err != nil {
		return fmt.Errorf("batch sql: %w", err)
	}
	defer c.Close()
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.Conn().Exec(dctx, "DROP DATABASE IF EXISTS "+o.E2EDatabase); err != nil {
			o.Logger.Warn("batch sql: drop database", "database", o.E2EDatabase, "err", err)
		}
	}()
	res, err := runBatchSQL(ctx, c.Conn(), p, o.E2EDatabase)
	if err != nil {
		return fmt.Errorf("batch sql: %w", err)
	}
	var events uint64
	if err := c.Conn().QueryRow(ctx, "SELECT count() FROM "+o.E2EDatabase+".events").Scan(&events); err != nil {
		return fmt.Errorf("batch sql: count events: %w", err)
	}
	base, baseName := r.Value("e2e_seconds"), "streaming pipeline, end to end over the same data (e2e_seconds)"
	if math.IsNaN(base) {
		if base, err = scanSeconds(ctx, c.Conn(), o.E2EDatabase); err != nil {
			return fmt.Errorf("batch sql: %w", err)
		}
		baseName = "SELECT count(person_key) FROM events (one full scan)"
	}
	t := res.totals()
	agrees := func(n, d uint64) float64 {
		if n == 0 {
			return math.NaN()
		}
		return float64(n-d) / float64(n)
	}
	r.Add(
		Figure{Key: "sql_batch_seconds", Value: res.Took.Seconds(), Unit: "s", Baseline: baseName, BaselineValue: base,
			Note: fmt.Sprintf("one CREATE TABLE %s AS SELECT over %d rows of events, plus the GROUP BY kafka_partition that finds "+
				"each partition's event clock; ClickHouse 18.16 on this machine; GROUP BY person_key with maxIf/groupUniqArrayIf/argMinIf, "+
				"the arrival rules joined from the two latest arrivals and area_designations; every rule generated from %s", BatchTable, events, p.Stamp())},
		Figure{Key: "sql_agrees", Value: agrees(t.Persons, t.Disagree), Unit: "fraction",
			Note: fmt.Sprintf("persons whose SQL colour equals colours_current (argMax(colour, version)), over all %d persons "+
				"in either; every rule of the policy decided by the SQL (arrival rules from area_designations)", t.Persons)},
		Figure{Key: "sql_persons", Value: float64(t.Persons), Unit: "persons", Note: "persons in the SQL colours or colours_current"},
		Figure{Key: "sql_disagree", Value: float64(t.Disagree), Unit: "persons", Note: "persons whose colours differ (all persons)"},
		Figure{Key: "sql_rules_agree", Value: agrees(t.Persons-t.Disagree, t.Persons-t.Disagree-t.SameRules), Unit: "fraction",
			Note: "of the persons whose colours agree, those whose reasons name the same rules"},
	)
	r.Note("%s", batchNote(res))
	return nil
}

// batchNote explains the comparison: the disagreements by (SQL colour,
// stream colour) and what causes each kind.
func batchNote(res *batchResult) string {
	var b strings.Builder
	t := res.totals()
	lo, hi := res.Now, time.Time{}
	for _, c := range res.Clocks {
		lo, hi = minTime(lo, c), maxTime(hi, c)
	}
	fmt.Fprintf(&b, "Batch SQL vs stream, each person decided at their partition's event clock as the run had it"+
		" (%d partitions, %s to %s), %d persons, %d disagree", len(res.Clocks), lo.Format(time.RFC3339), hi.Format(time.RFC3339),
		t.Persons, t.Disagree)
	pairs := append([]batchPair(nil), res.Pairs...)
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].Persons > pairs[j].Persons })
	var missing, clock bool
	sep := ": "
	for _, p := range pairs {
		if p.SQL == p.Stream {
			continue
		}
		what := "decidable from events"
		switch {
		case p.SQL == "" || p.Stream == "":
			missing, what = true, "on one side only"
		default:
			clock = true
		}
		fmt.Fprintf(&b, "%ssql %s / stream %s: %d (%s)", sep, orNone(p.SQL), orNone(p.Stream), p.Persons, what)
		sep = "; "
	}
	b.WriteString(".")
	if missing {
		b.WriteString(" A person on one side only was never decided by the other (no event with a time, or no update written).")
	}
	if clock {
		b.WriteString(" Other disagreements: an area fact the engine took from a stay" +
			" against a region or H3 designation it already knew, for which tracing wrote no exposure row (e.g. a stay" +
			" older than the tracer's look-back), or a fourth negative PCR inside one negative_apart window (the engine" +
			" keeps three and may clear a rule late).")
	}
	at := totalsOf(res.AtNow)
	fmt.Fprintf(&b, " Decided instead at one instant for everyone, the highest occurred_at in events (%s), as a batch"+
		" job would: %d of the %d persons differ from the stream (rules expiring between their partition's clock"+
		" and that instant).", res.Now.Format(time.RFC3339), at.Disagree, at.Persons)
	if res.OtherPols > 0 {
		fmt.Fprintf(&b, " %d persons' stream colours were decided by another policy.", res.OtherPols)
	}
	return b.String()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
