package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"healthcode/pipeline/kafka"
	"healthcode/sinks"
)

// snapshot is everything a run produced that the comparison looks at.
type snapshot struct {
	updates   int                            // messages on hc.colour-updates, duplicates included
	history   map[string]map[uint64][32]byte // person key → version → hash of its content
	final     map[string]string              // person key → colour and reasons of the last version
	conflicts []string                       // versions seen with two contents
	gaps      []string                       // persons missing a version between 1 and their last
	tables    map[string]rowSet
}

// rowSet is a table read with FINAL: each row's hash and how often it occurs.
type rowSet struct {
	rows    int
	columns []string
	set     map[[32]byte]int
	sample  map[[32]byte]string // the text of each row, for a few differences
}

// compared tables: what identifies a row is every column but the insert
// time and the Kafka coordinates (a re-delivered message may be written
// from another offset), and for exposures their version. An exposure's
// version is an ordering token, not part of what it says: the tracer numbers
// each version by the offset on hc.presence of the input that produced it
// (which only rises, so a rebuilt index can never issue a version below one
// already sent), and which offset that is depends on how the score
// partitions' writes to hc.presence interleaved. What an exposure says
// (who, whom, where, when, the evidence, whether it is retracted) is a
// function of the set of inputs and is compared in full; FINAL keeps the
// highest version of each.
var comparedTables = []string{"colours_current", "colour_changes", "exposures", "events"}

var skippedColumns = map[string]bool{"inserted_at": true, "kafka_topic": true, "kafka_partition": true, "kafka_offset": true}

var skippedIn = map[string]map[string]bool{"exposures": {"version": true}}

func (s *stack) snapshot(ctx context.Context) (*snapshot, error) {
	sn := &snapshot{history: map[string]map[uint64][32]byte{}, final: map[string]string{}, tables: map[string]rowSet{}}
	if err := s.readUpdates(ctx, sn); err != nil {
		return nil, err
	}
	for _, t := range comparedTables {
		rs, err := s.readTable(ctx, t)
		if err != nil {
			return nil, err
		}
		sn.tables[t] = rs
	}
	return sn, nil
}

// readUpdates reads hc.colour-updates from its start to its end.
func (s *stack) readUpdates(ctx context.Context, sn *snapshot) error {
	topic := s.pl.Options().Topics.ColourUpdates
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	ends, err := s.kc.EndOffsets(ctx, topic, parts...)
	if err != nil {
		return err
	}
	last := map[string]uint64{}
	for p := range partitions {
		err := s.kc.Replay(ctx, topic, p, ends[p], func(m *kafka.Message) error {
			var u sinks.ColourUpdate
			if err := json.Unmarshal(m.Value, &u); err != nil {
				return fmt.Errorf("colour update %d/%d: %w", p, m.Offset, err)
			}
			sn.updates++
			h := sha256.Sum256(m.Value)
			vs := sn.history[u.PersonKey]
			if vs == nil {
				vs = map[uint64][32]byte{}
				sn.history[u.PersonKey] = vs
			}
			if old, ok := vs[u.Version]; ok && old != h {
				sn.conflicts = append(sn.conflicts, fmt.Sprintf("%s v%d", u.PersonKey, u.Version))
			}
			vs[u.Version] = h
			if u.Version >= last[u.PersonKey] {
				last[u.PersonKey] = u.Version
				r, _ := json.Marshal(u.Reasons)
				sn.final[u.PersonKey] = u.Colour + " " + string(r)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for k, vs := range sn.history {
		for v := uint64(1); v <= last[k]; v++ {
			if _, ok := vs[v]; !ok {
				sn.gaps = append(sn.gaps, fmt.Sprintf("%s v%d", k, v))
				break
			}
		}
	}
	slices.Sort(sn.conflicts)
	slices.Sort(sn.gaps)
	return nil
}

// readTable reads table FINAL, every compared column of every row.
func (s *stack) readTable(ctx context.Context, table string) (rowSet, error) {
	rs := rowSet{set: map[[32]byte]int{}, sample: map[[32]byte]string{}}
	cl, err := s.clickhouse(ctx)
	if err != nil {
		return rs, err
	}
	defer cl.Close()
	conn := cl.Conn()
	cols, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return rs, fmt.Errorf("columns of %s: %w", table, err)
	}
	for cols.Next() {
		var n string
		if err := cols.Scan(&n); err != nil {
			cols.Close()
			return rs, err
		}
		if !skippedColumns[n] && !skippedIn[table][n] {
			rs.columns = append(rs.columns, n)
		}
	}
	cols.Close()
	if len(rs.columns) == 0 {
		return rs, fmt.Errorf("table %s.%s has no columns", s.db, table)
	}
	q := "SELECT `" + strings.Join(rs.columns, "`, `") + "` FROM `" + s.db + "`.`" + table + "` FINAL"
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return rs, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, t := range types {
		dest[i] = reflect.New(t.ScanType()).Interface()
	}
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return rs, fmt.Errorf("read %s: %w", table, err)
		}
		b.Reset()
		for i, d := range dest {
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprintf(&b, "%v", reflect.ValueOf(d).Elem().Interface())
		}
		h := sha256.Sum256([]byte(b.String()))
		rs.set[h]++
		rs.rows++
		if len(rs.sample) < 20000 {
			rs.sample[h] = b.String()
		}
	}
	return rs, rows.Err()
}
