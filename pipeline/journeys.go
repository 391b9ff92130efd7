package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"healthcode/pipeline/wire"

	"healthcode/pipeline/kafka"
)

// Return journeys: the score stage writes a JSON record (wire.Journey) to
// hc.journeys, keyed by person, whenever what a declared journey's row shows
// changes; the sink inserts them into ClickHouse return_journeys. Like colour
// updates, they are written before the state records of the same batch, and a
// replay after a crash re-derives the same versions, which the table's
// ReplacingMergeTree(version) absorbs.

// journeyMessages encodes the journey rows the engine issued since the last
// batch.
func (pt *part) journeyMessages() ([]kafka.Message, error) {
	ups := pt.eng.TakeJourneys()
	if len(ups) == 0 {
		return nil, nil
	}
	out := make([]kafka.Message, 0, len(ups))
	for i := range ups {
		j := wire.NewJourney(&ups[i])
		b, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("encode journey: %w", err)
		}
		out = append(out, kafka.Message{Key: []byte(j.PersonKey), Value: b})
	}
	return out, nil
}

func (s *sink) journeys(ctx context.Context) error {
	return consumeJSON(ctx, s, StageSink+"-journeys", s.o.Topics.Journeys, "journey", s.ch.WriteJourneys, &s.o.Metrics.JourneyRows)
}
