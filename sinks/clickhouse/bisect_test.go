package clickhouse_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// TestWriteEvents_ServerRefusesRows: rows the server itself refuses (a
// throwIf in a MATERIALIZED column, the CHECK constraint ClickHouse 18.16
// has) among good rows are isolated and reported with the server's error;
// every good row is written.
func TestWriteEvents_ServerRefusesRows(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	if err := c.Conn().Exec(ctx, "ALTER TABLE events ADD COLUMN refuse UInt8 MATERIALIZED throwIf(seat_row = 999)"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(21, 22))
	evs := genEvents(r, people(r, 20), 500, scoring.MustTime("2020-03-01T00:00:00Z"))
	bad := []int{0, 137, 138, 499}
	for _, i := range bad {
		evs[i].Row = 999
	}
	err := c.WriteEvents(ctx, nil, evs)
	var re *clickhouse.RefusedError
	if !errors.As(err, &re) || len(re.Rows) != len(bad) {
		t.Fatalf("WriteEvents = %v, want %d rows refused", err, len(bad))
	}
	for j, i := range bad {
		row := re.Rows[j]
		var ex *ch.Exception
		if row.Index != i || row.Table != "events" || !errors.As(row.Err, &ex) || ex.Code != 395 || !strings.Contains(ex.Message, "throwIf") {
			t.Errorf("refused row %d = %d %s %v, want %d with the server's code 395", j, row.Index, row.Table, row.Err, i)
		}
	}
	if n := count(t, c, "SELECT count() FROM events"); n != uint64(len(evs)-len(bad)) {
		t.Errorf("events holds %d rows, want %d", n, len(evs)-len(bad))
	}
	if n := count(t, c, "SELECT count() FROM events WHERE seat_row = 999"); n != 0 {
		t.Errorf("%d refused rows were written", n)
	}
}
