package pipeline

import (
	"errors"
	"fmt"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// Headers of a message on hc.dead-letter (deadLetter in ingest.go writes the
// first four). The value and key are the message as received, or, for a
// refused row or a refused event, that row or event alone.
const (
	HeaderError     = "error"     // why it was refused: one sentence, never quoting an identifier
	HeaderTopic     = "topic"     // the topic it was read from, where a replay sends it
	HeaderPartition = "partition" // its partition there
	HeaderOffset    = "offset"    // its offset there
	HeaderTable     = "table"     // the ClickHouse table that refused it (sink only)
)

// deadLettered counts messages written to the dead-letter topic, in the
// Metrics.DeadLetters total and in healthcode_dead_letters_total{topic} by
// each message's HeaderTopic (the topic the bad message came from). Every
// dead-letter path calls it once the write is acknowledged.
func (o *Options) deadLettered(msgs []kafka.Message) {
	o.Metrics.DeadLetters.Add(int64(len(msgs)))
	o.Metrics.deadLettered(msgs)
}

// headerValue returns the value of m's header key, or "".
func headerValue(m *kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// refusedRows splits a writer's result into the rows ClickHouse refused (the
// rest was written) and an error that means the batch is to be retried.
func refusedRows(err error) ([]clickhouse.RefusedRow, error) {
	if err == nil {
		return nil, nil
	}
	var re *clickhouse.RefusedError
	if errors.As(err, &re) {
		return re.Rows, nil
	}
	return nil, err
}

// refusedLetter is the dead letter of a row table refused, read from m: value
// stands for the row (nil: m's value).
func refusedLetter(m *kafka.Message, value []byte, r clickhouse.RefusedRow) kafka.Message {
	bad := *m
	if value != nil {
		bad.Value = value
	}
	d := deadLetter(&bad, fmt.Errorf("clickhouse %s refused the row: %w", r.Table, r.Err))
	d.Headers = append(d.Headers, kafka.Header{Key: HeaderTable, Value: []byte(r.Table)})
	return d
}

// refusedEventLetters returns the dead letters of the refused events: each
// event alone, encoded as a message of hc.person-events, with the headers of
// the message it came from (msgs[src[i]] for evs[i]).
func refusedEventLetters(msgs []kafka.Message, src []int, evs []scoring.Event, refused []clickhouse.RefusedRow) []kafka.Message {
	var dead []kafka.Message
	for _, r := range refused {
		one, err := wire.EncodeEvents(evs[r.Index : r.Index+1])
		if err != nil {
			one = []byte{} // an event that cannot be encoded: the headers say enough
		}
		dead = append(dead, refusedLetter(&msgs[src[r.Index]], one, r))
	}
	return dead
}

// refusedRecordLetters returns the dead letters of the refused records, each
// the message it was decoded from (msgs[src[i]] for record i).
func refusedRecordLetters(msgs []kafka.Message, src []int, refused []clickhouse.RefusedRow) []kafka.Message {
	var dead []kafka.Message
	for _, r := range refused {
		dead = append(dead, refusedLetter(&msgs[src[r.Index]], nil, r))
	}
	return dead
}
