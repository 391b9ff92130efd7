package clickhouse_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

func TestWriteEvents_RoundTrip(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(1, 2))
	who := people(r, 5)
	evs := genEvents(r, who, 400, scoring.MustTime("2020-03-01T00:00:00Z"))
	meta := make([]clickhouse.EventMeta, len(evs))
	for i := range meta {
		meta[i] = clickhouse.EventMeta{Topic: "hc.person-events", Partition: int32(i % 12), Offset: int64(1000 + i)}
	}
	// A tick and an area designation among them are not written.
	evs = append(evs, scoring.Event{Kind: scoring.KindTick, At: scoring.MustTime("2020-05-01T00:00:00Z")},
		scoring.AreaEvent(scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh,
			From: scoring.MustTime("2020-03-01T00:00:00Z"), ID: "area-1"}))
	meta = append(meta, clickhouse.EventMeta{Topic: "hc.person-events", Offset: 9998},
		clickhouse.EventMeta{Topic: "hc.person-events", Offset: 9999})
	start := time.Now().Add(-time.Second)
	if err := c.WriteEvents(ctx, meta, evs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT count() FROM events"); n != 400 {
		t.Fatalf("events has %d rows, want 400 (tick and area skipped)", n)
	}

	for _, k := range who {
		var ids []string
		want := map[string]int{} // event id -> index in evs
		for i, e := range evs[:400] {
			if e.Person == k {
				ids = append(ids, e.ID)
				want[e.ID] = i
			}
		}
		// person_key is stored as 32 lowercase hex characters.
		if n := count(t, c, "SELECT count() FROM events WHERE person_key = ?", k.String()); n != uint64(len(ids)) {
			t.Errorf("%s: %d rows by hex key, want %d", k, n, len(ids))
		}
		rows, err := c.EventsByID(ctx, k, append(ids, "no-such-event"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(ids) {
			t.Fatalf("%s: EventsByID gave %d rows, want %d", k, len(rows), len(ids))
		}
		for j, row := range rows {
			if j > 0 && row.OccurredAt.Before(rows[j-1].OccurredAt) {
				t.Errorf("rows not ordered by occurred_at: %v after %v", row.OccurredAt, rows[j-1].OccurredAt)
			}
			i, ok := want[row.EventID]
			if !ok {
				t.Fatalf("unexpected event %q", row.EventID)
			}
			got, err := row.Event()
			if err != nil {
				t.Fatal(err)
			}
			if got != evs[i] {
				t.Errorf("event %d round trip:\n got %+v\nwant %+v", i, got, evs[i])
			}
			if row.Meta != meta[i] {
				t.Errorf("event %d meta = %+v, want %+v", i, row.Meta, meta[i])
			}
			if row.Kind != evs[i].Kind.String() {
				t.Errorf("event %d kind %q, want %q", i, row.Kind, evs[i].Kind)
			}
			if !row.OccurredAt.Equal(evs[i].At.Std()) || row.OccurredAt.Location() != time.UTC {
				t.Errorf("event %d occurred_at %v, want %v UTC", i, row.OccurredAt, evs[i].At.Std())
			}
			if evs[i].End == 0 && !row.EndedAt.IsZero() {
				t.Errorf("event %d without end has ended_at %v", i, row.EndedAt)
			}
			if row.InsertedAt.Before(start.Truncate(time.Second)) || row.InsertedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("event %d inserted_at %v, not about now", i, row.InsertedAt)
			}
		}
	}

	// Events are findable by kind name in SQL.
	var decl uint64
	for _, e := range evs {
		if e.Kind == scoring.KindDeclaration {
			decl++
		}
	}
	if n := count(t, c, "SELECT count() FROM events WHERE kind = 'declaration'"); n != decl {
		t.Errorf("%d declarations by enum name, want %d", n, decl)
	}
	if rows, err := c.EventsByID(ctx, who[0], nil); err != nil || rows != nil {
		t.Errorf("EventsByID(no ids) = %v, %v; want nothing", rows, err)
	}
}

func TestWriteEvents_DuplicatesMerge(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(3, 4))
	evs := genEvents(r, people(r, 20), 1000, scoring.MustTime("2020-03-01T00:00:00Z"))
	for range 2 { // an at-least-once redelivery of the same batch
		if err := c.WriteEvents(ctx, nil, evs); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() FROM events"); n != 2000 {
		t.Fatalf("before merge: %d rows, want 2000 (two inserts)", n)
	}
	if n := count(t, c, "SELECT count() FROM events FINAL"); n != 1000 {
		t.Errorf("with FINAL: %d rows, want 1000", n)
	}
	optimizeFinal(t, c, "OPTIMIZE TABLE events FINAL", "SELECT count() FROM events", 1000)
	rows, err := c.EventsByID(ctx, evs[0].Person, []string{evs[0].ID})
	if err != nil || len(rows) != 1 {
		t.Fatalf("EventsByID of a duplicated event = %d rows, %v; want 1", len(rows), err)
	}
}

func TestWriteEvents_Refused(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(5, 6))
	evs := genEvents(r, people(r, 2), 10, scoring.MustTime("2020-03-01T00:00:00Z"))
	f := func(name string, meta []clickhouse.EventMeta, evs []scoring.Event, wantErr string) {
		t.Helper()
		err := c.WriteEvents(ctx, meta, evs)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: error %v, want one containing %q", name, err, wantErr)
		}
	}
	f("short meta", make([]clickhouse.EventMeta, 3), evs, "3 metas for 10 events")
	f("only ticks", nil, []scoring.Event{{Kind: scoring.KindTick, At: 5}}, "")
	f("nothing", nil, nil, "")
	if n := count(t, c, "SELECT count() FROM events"); n != 0 {
		t.Errorf("refused or empty writes left %d rows", n)
	}
	// Events the table cannot hold are refused; the others are written.
	bad := slices.Clone(evs)
	bad[7].Kind = scoring.KindInvalid
	bad[3].Kind = 200
	bad[5].At = scoring.MustTime("2110-01-01T00:00:00Z")
	err := c.WriteEvents(ctx, nil, bad)
	var re *clickhouse.RefusedError
	if !errors.As(err, &re) || len(re.Rows) != 3 {
		t.Fatalf("WriteEvents = %v, want 3 rows refused", err)
	}
	for i, want := range []struct {
		index int
		err   string
	}{{3, "kind kind(200) has no events.kind value"}, {5, "after 2106"}, {7, "kind invalid has no events.kind value"}} {
		if r := re.Rows[i]; r.Index != want.index || r.Table != "events" || !strings.Contains(r.Err.Error(), want.err) {
			t.Errorf("refused row %d = %d %s %v, want %d containing %q", i, r.Index, r.Table, r.Err, want.index, want.err)
		}
	}
	if n := count(t, c, "SELECT count() FROM events"); n != 7 {
		t.Errorf("events holds %d rows, want the 7 good ones", n)
	}
}
