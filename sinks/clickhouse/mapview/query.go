package mapview

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// parentSQL is the SQL of the H3 parent at resolution res of the events
// table's cell column (resolution 15 cells, as the decoder stores them):
// the resolution bits set to res and the digits below it to 7, as
// scoring.H3Parent. ClickHouse 18.16 has no H3 functions; bit arithmetic
// runs everywhere.
func parentSQL(res int) string {
	digits := uint64(1)<<(3*(15-res)) - 1
	keep := ^(uint64(0xF)<<52 | digits)
	return fmt.Sprintf("bitOr(bitAnd(cell, toUInt64(%d)), toUInt64(%d))", keep, uint64(res)<<52|digits)
}

// cellFilter keeps the cells fine enough to have a parent at res.
func cellFilter(res int) string {
	return fmt.Sprintf("cell != 0 AND bitAnd(bitShiftRight(cell, 52), 15) >= %d", res)
}

// cellCounts runs q, which returns (cell UInt64, n UInt64) rows.
func cellCounts(ctx context.Context, conn driver.Conn, q string) (map[uint64]uint64, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64]uint64{}
	for rows.Next() {
		var c, n uint64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// dayBounds is the SQL of the instants [day, day+1) in UTC.
func dayBounds(day time.Time) (string, string) {
	f := "toDateTime('%s', 'UTC')"
	return fmt.Sprintf(f, day.Format("2006-01-02 15:04:05")), fmt.Sprintf(f, day.AddDate(0, 0, 1).Format("2006-01-02 15:04:05"))
}

// footprint is the province: the cells at res where anyone has stayed.
func footprint(ctx context.Context, conn driver.Conn, res, limit int) (map[uint64]uint64, error) {
	return cellCounts(ctx, conn, fmt.Sprintf("SELECT %s AS p, uniqExact(person_key) FROM events WHERE %s GROUP BY p ORDER BY p LIMIT %d",
		parentSQL(res), cellFilter(res), limit))
}

// exposuresByCell counts the exposures of day per cell at res: each
// exposure is placed at the cell of the exposed person's stay among its
// evidence (check-ins and travel with a location; flight exposures have
// none). lookback bounds the stays searched.
func exposuresByCell(ctx context.Context, conn driver.Conn, day time.Time, res int, lookback time.Duration) (map[uint64]uint64, error) {
	from, to := dayBounds(day)
	early, _ := dayBounds(day.Add(-lookback))
	q := fmt.Sprintf("SELECT p, uniqExact(exposure_id) FROM ("+
		"SELECT exposure_id, any(p) AS p FROM ("+
		"SELECT exposure_id, exposed_key AS person_key, eid AS event_id FROM exposures FINAL ARRAY JOIN evidence AS eid "+
		"WHERE exposed_at >= %s AND exposed_at < %s) AS x "+
		"ALL INNER JOIN (SELECT person_key, event_id, %s AS p FROM events WHERE kind IN ('checkin', 'travel') AND %s "+
		"AND occurred_at >= %s AND occurred_at < %s) AS e USING person_key, event_id GROUP BY exposure_id) GROUP BY p",
		from, to, parentSQL(res), cellFilter(res), early, to)
	return cellCounts(ctx, conn, q)
}

// colourByCell counts the persons whose colour at the end of day is colour,
// per cell at res of their latest stay with a location up to then.
func colourByCell(ctx context.Context, conn driver.Conn, day time.Time, res int, colour string) (map[uint64]uint64, error) {
	_, to := dayBounds(day)
	q := fmt.Sprintf("SELECT p, count() FROM ("+
		"SELECT person_key, argMax(colour, version) AS c FROM colour_changes WHERE effective_at < %s GROUP BY person_key) AS r "+
		"ALL INNER JOIN (SELECT person_key, argMax(%s, occurred_at) AS p FROM events WHERE %s AND occurred_at < %s GROUP BY person_key) AS l "+
		"USING person_key WHERE c = ? GROUP BY p", to, parentSQL(res), cellFilter(res), to)
	rows, err := conn.Query(ctx, q, colour)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint64]uint64{}
	for rows.Next() {
		var c, n uint64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// series is the count of persons of each colour at the end of each day.
type series struct {
	Days    []time.Time
	Colours []string           // in order of first appearance
	Counts  map[string][]int64 // colour -> count per day
}

// colourSeries sums the day's moves between colours of
// colour_transitions_daily into the counts at the end of each day.
func colourSeries(ctx context.Context, conn driver.Conn) (*series, error) {
	rows, err := conn.Query(ctx, "SELECT day, from_colour, to_colour, uniqMerge(updates) FROM colour_transitions_daily GROUP BY day, from_colour, to_colour ORDER BY day, from_colour, to_colour")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	net := map[time.Time]map[string]int64{}
	seen := map[string]bool{}
	s := &series{Counts: map[string][]int64{}}
	for rows.Next() {
		var day time.Time
		var from, to string
		var n uint64
		if err := rows.Scan(&day, &from, &to, &n); err != nil {
			return nil, err
		}
		if net[day] == nil {
			net[day] = map[string]int64{}
			s.Days = append(s.Days, day)
		}
		for _, c := range []string{from, to} {
			if c != "" && !seen[c] {
				seen[c] = true
				s.Colours = append(s.Colours, c)
			}
		}
		net[day][to] += int64(n)
		if from != "" {
			net[day][from] -= int64(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(s.Days, func(i, j int) bool { return s.Days[i].Before(s.Days[j]) })
	for _, c := range s.Colours {
		var run int64
		for _, d := range s.Days {
			run += net[d][c]
			s.Counts[c] = append(s.Counts[c], run)
		}
	}
	return s, nil
}

// dayRange is the first and last day with exposures or colour changes.
func dayRange(ctx context.Context, conn driver.Conn) (first, last time.Time, err error) {
	err = conn.QueryRow(ctx, "SELECT min(d), max(d) FROM (SELECT day AS d FROM colour_transitions_daily UNION ALL SELECT day AS d FROM exposures_daily)").Scan(&first, &last)
	return first, last, err
}
