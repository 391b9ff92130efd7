package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// An undecodable record of the changelog (a bug, a foreign writer, a format
// downgrade) must not fail the partition's restore forever. It is skipped,
// and at the end of the restore, unless a later record of the same key
// superseded it, it is dead-lettered (once: see below), counted and logged.
//
// What is lost: for a person record, the person's state reverts to their
// previous record still in the changelog (none after compaction), and input
// that only the bad record reflected is not applied again (the marker skips
// it). For a marker, input since the previous marker is applied again, which
// is idempotent.
//
// So that a later restore does not dead-letter it again, the restore writes
// a record of the same key after it: the person's state as restored, or a
// tombstone if none (for the marker, the marker as restored). Compaction
// then drops the bad record.

// badRecords holds the undecodable records of one restore, by key.
type badRecords struct {
	byKey map[string]kafka.Message // dead letters of the bad records not yet superseded
	order []string                 // keys in the order first seen
}

// add notes m, which did not decode (err).
func (b *badRecords) add(m *kafka.Message, err error) {
	if b.byKey == nil {
		b.byKey = map[string]kafka.Message{}
	}
	k := string(m.Key)
	if _, seen := b.byKey[k]; !seen {
		b.order = append(b.order, k)
	}
	b.byKey[k] = deadLetter(m, err)
}

// superseded notes a good record (or a tombstone) of key, after any bad one.
func (b *badRecords) superseded(key []byte) {
	if b.byKey != nil {
		delete(b.byKey, string(key))
	}
}

// settle dead-letters the bad records left and writes a record of each one's
// key after it. It returns once both writes are acknowledged.
func (pt *part) settle(ctx context.Context, b *badRecords) error {
	if len(b.byKey) == 0 {
		return nil
	}
	var dead, fix []kafka.Message
	for _, k := range b.order {
		d, ok := b.byKey[k]
		if !ok {
			continue
		}
		dead = append(dead, d)
		m := kafka.Message{Partition: pt.p, Key: []byte(k)} // a tombstone, unless:
		switch {
		case wire.IsMarkerKey(m.Key):
			v, err := wire.EncodeMarker(wire.Marker{Next: pt.skipTo, Clock: pt.clock})
			if err != nil {
				return fmt.Errorf("encode marker: %w", err)
			}
			m.Value = v
		case len(m.Key) == len(scoring.PersonKey{}):
			if rec, ok := pt.eng.AppendState(nil, scoring.PersonKey(m.Key)); ok {
				m.Value = rec
			}
		}
		fix = append(fix, m)
	}
	pt.s.o.Logger.Error("scoring: undecodable changelog records skipped and dead-lettered; those persons keep their previous state",
		slog.Int("partition", pt.p), slog.Int("records", len(dead)), slog.String("first_error", headerValue(&dead[0], HeaderError)))
	if err := writeInOrder(ctx, output{pt.s.dead, dead}, output{pt.s.state, fix}); err != nil {
		return fmt.Errorf("settle undecodable changelog records: %w", err)
	}
	pt.s.o.deadLettered(dead)
	return nil
}
