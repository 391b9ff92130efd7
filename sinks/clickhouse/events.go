package clickhouse

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"healthcode/scoring"
)

// EventMeta says which internal message an event came from. The zero value
// means unknown.
type EventMeta struct {
	Topic     string
	Partition int32
	Offset    int64
}

// eventColumns lists the events columns WriteEvents fills, in the order of
// eventBatch.columns. inserted_at takes its default.
const eventColumns = "person_key, event_id, source, kind, sub, result, level, dose, symptoms, " +
	"temperature_c, seat_row, occurred_at, ended_at, cell, country, place, text, " +
	"kafka_topic, kafka_partition, kafka_offset"

// eventBatch holds one insert's columns.
type eventBatch struct {
	keyBuf                             []byte   // n*32 hex bytes, backing keys
	keys                               [][]byte // FixedString(32)
	ids, sources                       []string
	kinds                              []int8 // Enum8 values are scoring.Kind values
	subs, results, levels, doses, syms []uint8
	temps                              []float32
	rows                               []int16
	at, end                            []int64 // unix seconds, 0 = absent
	cells                              []uint64
	countries, places, texts, topics   []string
	partitions                         []uint32
	offsets                            []uint64
}

func newEventBatch(n int) *eventBatch {
	return &eventBatch{
		keyBuf:     make([]byte, 0, n*32),
		keys:       make([][]byte, 0, n),
		ids:        make([]string, 0, n),
		sources:    make([]string, 0, n),
		kinds:      make([]int8, 0, n),
		subs:       make([]uint8, 0, n),
		results:    make([]uint8, 0, n),
		levels:     make([]uint8, 0, n),
		doses:      make([]uint8, 0, n),
		syms:       make([]uint8, 0, n),
		temps:      make([]float32, 0, n),
		rows:       make([]int16, 0, n),
		at:         make([]int64, 0, n),
		end:        make([]int64, 0, n),
		cells:      make([]uint64, 0, n),
		countries:  make([]string, 0, n),
		places:     make([]string, 0, n),
		texts:      make([]string, 0, n),
		topics:     make([]string, 0, n),
		partitions: make([]uint32, 0, n),
		offsets:    make([]uint64, 0, n),
	}
}

func (b *eventBatch) add(m EventMeta, e *scoring.Event) {
	i := len(b.keyBuf)
	b.keyBuf = b.keyBuf[:i+32]
	hex.Encode(b.keyBuf[i:], e.Person[:])
	b.keys = append(b.keys, b.keyBuf[i:i+32:i+32])
	b.ids = append(b.ids, e.ID)
	b.sources = append(b.sources, e.Source)
	b.kinds = append(b.kinds, int8(e.Kind))
	b.subs = append(b.subs, e.Sub)
	b.results = append(b.results, uint8(e.Result))
	b.levels = append(b.levels, e.Level)
	b.doses = append(b.doses, e.Dose)
	b.syms = append(b.syms, e.Symptoms)
	b.temps = append(b.temps, float32(e.TempDeci)/10)
	b.rows = append(b.rows, e.Row)
	b.at = append(b.at, unixOf(e.At))
	b.end = append(b.end, unixOf(e.End))
	b.cells = append(b.cells, e.Cell)
	b.countries = append(b.countries, e.Country)
	b.places = append(b.places, e.Place)
	b.texts = append(b.texts, e.Text)
	b.topics = append(b.topics, m.Topic)
	b.partitions = append(b.partitions, uint32(max(m.Partition, 0)))
	b.offsets = append(b.offsets, uint64(max(m.Offset, 0)))
}

func (b *eventBatch) columns() []any {
	return []any{b.keys, b.ids, b.sources, b.kinds, b.subs, b.results, b.levels, b.doses, b.syms,
		b.temps, b.rows, b.at, b.end, b.cells, b.countries, b.places, b.texts,
		b.topics, b.partitions, b.offsets}
}

// skipKind reports whether WriteEvents leaves out events of kind k: internal
// transport rather than facts about a person (event-clock ticks, area
// designations broadcast to every partition, contact-tracing marks), and
// return-journey declarations, whose rows are return_journeys (journeys.go).
func skipKind(k scoring.Kind) bool {
	return k == scoring.KindTick || k == scoring.KindArea || k == scoring.KindMark || k == scoring.KindJourney
}

// storedKind reports whether events.kind's Enum8 (migration 0001) has k.
func storedKind(k scoring.Kind) bool { return k >= scoring.KindTest && k <= scoring.KindExposure }

// unixOf returns t as unix seconds, 0 for the zero (absent) Time.
func unixOf(t scoring.Time) int64 {
	if t == 0 {
		return 0
	}
	return scoring.Epoch + int64(t)
}

// WriteEvents inserts evs into events in one batched columnar insert. meta[i]
// says where evs[i] came from; meta may be nil (all unknown), otherwise it must
// be as long as evs. Events about no person (ticks, area designations) are
// skipped. An event the table cannot hold (a kind events.kind does not know,
// a time beyond DateTime's 2106) or that ClickHouse refuses is left out and
// reported in a *RefusedError (Index: its index in evs) once every other
// event is written; any other error means nothing may have been written, and
// the call is to be retried.
func (c *Client) WriteEvents(ctx context.Context, meta []EventMeta, evs []scoring.Event) error {
	if meta != nil && len(meta) != len(evs) {
		return fmt.Errorf("write events: %d metas for %d events", len(meta), len(evs))
	}
	var refused []RefusedRow
	rows := make([]int, 0, len(evs))
	for i := range evs {
		if skipKind(evs[i].Kind) {
			continue
		}
		if err := storableEvent(&evs[i]); err != nil {
			refused = append(refused, RefusedRow{Index: i, Table: "events", Err: err})
			continue
		}
		rows = append(rows, i)
	}
	if len(rows) > 0 {
		b := newEventBatch(len(rows))
		for _, i := range rows {
			var m EventMeta
			if meta != nil {
				m = meta[i]
			}
			b.add(m, &evs[i])
		}
		more, err := c.insertIsolating(ctx, "events", eventColumns, b.columns(), rows)
		if err != nil {
			return fmt.Errorf("write events: %w", err)
		}
		refused = mergeRefused(refused, more)
	}
	return refusedOrNil(refused)
}

// storableEvent says why the events table cannot hold e, or nil.
func storableEvent(e *scoring.Event) error {
	if !storedKind(e.Kind) {
		return fmt.Errorf("kind %s has no events.kind value (a new kind needs a migration)", e.Kind)
	}
	if unixOf(e.At) > math.MaxUint32 || unixOf(e.End) > math.MaxUint32 {
		return errors.New("occurred_at or ended_at is after 2106, beyond a DateTime")
	}
	return nil
}

// mergeRefused merges two lists of refused rows, each in input order.
func mergeRefused(a, b []RefusedRow) []RefusedRow {
	if len(a) == 0 {
		return b
	}
	out := make([]RefusedRow, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Index <= b[0].Index {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// insertColumns runs one batched insert of whole columns (each a slice, all of
// the same length) into table's named columns. A pooled connection can be
// found dead only when the insert is sent (clickhouse-go keeps a connection
// whose write failed in its pool: clickhouse-go issue #1868); such an insert
// never reached the table, so it is tried once more on another connection.
//
// In cluster mode a table with inserted_at gets it from the client, stamped
// by retryStamps (see stamp.go), so that a retry is the identical block the
// replicas deduplicate.
func (c *Client) insertColumns(ctx context.Context, table, columns string, cols []any) (err error) {
	if c.opts.Cluster != "" && stampedTables[table] {
		s, err := c.stamps.take(table, cols, c.opts.Now())
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		defer func() { c.stamps.done(table, s, err) }()
		at := make([]int64, rowCount(cols))
		for i := range at {
			at[i] = s.at
		}
		columns += ", inserted_at"
		cols = append(cols[:len(cols):len(cols)], at)
	}
	err = c.insertOnce(ctx, table, columns, cols)
	if err != nil && connectionLost(err) && ctx.Err() == nil {
		c.opts.Logger.Warn("clickhouse insert: connection lost; retrying once", "table", table, "error", err)
		err = c.insertOnce(ctx, table, columns, cols)
	}
	return err
}

// connectionLost reports whether err is a broken connection rather than a
// refusal by the server.
func connectionLost(err error) bool {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
		return true
	}
	// clickhouse-go does not always wrap the network error.
	msg := err.Error()
	for _, s := range []string{"use of closed network connection", "broken pipe", "connection reset by peer"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (c *Client) insertOnce(ctx context.Context, table, columns string, cols []any) error {
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+columns+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			batch.Abort()
			// The column encoder refused a value: a data error (bisect.go).
			return fmt.Errorf("append %s column %d: %w", table, i, &valueError{err})
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// EventRow is one row of the events table, as read back.
type EventRow struct {
	PersonKey    string // 32 lowercase hex
	EventID      string
	Source       string
	Kind         string // scoring.Kind name
	Sub          uint8
	Result       uint8
	Level        uint8
	Dose         uint8
	Symptoms     uint8
	TemperatureC float32 // 0 if none
	SeatRow      int16
	OccurredAt   time.Time // UTC
	EndedAt      time.Time // UTC; the zero time.Time if none
	Cell         uint64
	Country      string
	Place        string
	Text         string
	Meta         EventMeta
	InsertedAt   time.Time // UTC
}

// Event rebuilds the scoring.Event the row was written from.
func (r *EventRow) Event() (scoring.Event, error) {
	key, err := scoring.ParsePersonKey(r.PersonKey)
	if err != nil {
		return scoring.Event{}, fmt.Errorf("event %q: %w", r.EventID, err)
	}
	kind := kindByName(r.Kind)
	if !storedKind(kind) {
		return scoring.Event{}, fmt.Errorf("event %q: unknown kind %q", r.EventID, r.Kind)
	}
	at, err := timeOfRow(r.OccurredAt)
	if err != nil {
		return scoring.Event{}, fmt.Errorf("event %q: occurred_at: %w", r.EventID, err)
	}
	end, err := timeOfRow(r.EndedAt)
	if err != nil {
		return scoring.Event{}, fmt.Errorf("event %q: ended_at: %w", r.EventID, err)
	}
	return scoring.Event{
		Person:   key,
		Kind:     kind,
		Sub:      r.Sub,
		Result:   scoring.Result(r.Result),
		Level:    r.Level,
		Dose:     r.Dose,
		Symptoms: r.Symptoms,
		TempDeci: int16(math.Round(float64(r.TemperatureC) * 10)),
		Row:      r.SeatRow,
		At:       at,
		End:      end,
		Cell:     r.Cell,
		Country:  r.Country,
		Place:    r.Place,
		ID:       r.EventID,
		Source:   r.Source,
		Text:     r.Text,
	}, nil
}

func kindByName(name string) scoring.Kind {
	for k := scoring.KindTest; storedKind(k); k++ {
		if k.String() == name {
			return k
		}
	}
	return scoring.KindInvalid
}

// timeOfRow converts a DateTime read back (0 = absent) to scoring.Time.
func timeOfRow(t time.Time) (scoring.Time, error) {
	if t.IsZero() || t.Unix() == 0 {
		return 0, nil
	}
	return scoring.TimeOf(t)
}

// rowTime normalises a DateTime read back: UTC, and the zero time.Time for 0.
func rowTime(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t.UTC()
}

const eventSelect = "SELECT person_key, event_id, source, kind, sub, result, level, dose, symptoms, " +
	"temperature_c, seat_row, occurred_at, ended_at, cell, country, place, text, " +
	"kafka_topic, kafka_partition, kafka_offset, inserted_at FROM events FINAL"

// EventsByID returns a person's events whose event ids are among ids (the
// evidence of a colour's reasons), duplicates merged, ordered by occurred_at
// then event id.
func (c *Client) EventsByID(ctx context.Context, key scoring.PersonKey, ids []string) ([]EventRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	set := make([]any, len(ids))
	for i, id := range ids {
		set[i] = id
	}
	rows, err := c.conn.Query(ctx, eventSelect+" WHERE person_key = ? AND event_id IN ? ORDER BY occurred_at, event_id, kind",
		key.String(), ch.GroupSet{Value: set})
	if err != nil {
		return nil, fmt.Errorf("query events of %s: %w", key, err)
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var r EventRow
		var part uint32
		var off uint64
		if err := rows.Scan(&r.PersonKey, &r.EventID, &r.Source, &r.Kind, &r.Sub, &r.Result, &r.Level, &r.Dose, &r.Symptoms,
			&r.TemperatureC, &r.SeatRow, &r.OccurredAt, &r.EndedAt, &r.Cell, &r.Country, &r.Place, &r.Text,
			&r.Meta.Topic, &part, &off, &r.InsertedAt); err != nil {
			return nil, fmt.Errorf("scan events of %s: %w", key, err)
		}
		r.Meta.Partition = int32(min(part, math.MaxInt32))
		r.Meta.Offset = int64(min(off, math.MaxInt64))
		r.OccurredAt = rowTime(r.OccurredAt)
		r.EndedAt = rowTime(r.EndedAt)
		r.InsertedAt = rowTime(r.InsertedAt)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of %s: %w", key, err)
	}
	return out, nil
}
