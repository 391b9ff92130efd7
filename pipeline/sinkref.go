package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

// The sink's reference-data consumers: hc.area-risk into area_designations
// and hc.policy (with the policy the process started with) into
// policy_versions, each its own consumer group, so SQL can decide every rule
// and say which policy was in force.

// areas inserts the designations of hc.area-risk; a record that does not
// decode goes to the dead-letter topic.
func (s *sink) areas(ctx context.Context) error {
	var ds []scoring.Designation
	return s.consume(ctx, s.o.group(StageSink+"-areas"), s.o.Topics.AreaRisk, func(msgs []kafka.Message) ([]kafka.Message, func(context.Context) ([]kafka.Message, error)) {
		ds = ds[:0]
		var dead []kafka.Message
		for i := range msgs {
			d, err := wire.DecodeDesignation(msgs[i].Value)
			if err != nil {
				dead = append(dead, deadLetter(&msgs[i], fmt.Errorf("decode designation: %w", err)))
				continue
			}
			ds = append(ds, d)
		}
		return dead, func(ctx context.Context) ([]kafka.Message, error) { return nil, s.ch.WriteDesignations(ctx, ds) }
	})
}

// policies inserts the start policy once, then every valid record of
// hc.policy. An invalid record is skipped here: the policy hub of every
// process that follows the topic refuses it and dead-letters it.
func (s *sink) policies(ctx context.Context) error {
	doc, err := json.Marshal(s.o.Policy)
	if err != nil {
		return fmt.Errorf("sink: encode start policy: %w", err)
	}
	start := []clickhouse.PolicyVersion{{Policy: s.o.Policy, JSON: doc, Published: s.o.Now(), KafkaOffset: -1}}
	for attempt := 0; ; attempt++ {
		err := s.ch.WritePolicyVersions(ctx, start)
		s.o.Metrics.inserted(ctx, StageSink+"-policies", err)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt%10 == 0 {
			s.o.Logger.Warn("clickhouse insert failed; retrying", slog.String("table", "policy_versions"), slog.Int("attempt", attempt+1), slog.Any("error", err))
		}
		select {
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
		case <-ctx.Done():
			return nil
		}
	}
	var vs []clickhouse.PolicyVersion
	return s.consume(ctx, s.o.group(StageSink+"-policies"), s.o.Topics.Policy, func(msgs []kafka.Message) ([]kafka.Message, func(context.Context) ([]kafka.Message, error)) {
		vs = vs[:0]
		for i := range msgs {
			m := &msgs[i]
			p, err := wire.DecodePolicy(m.Key, m.Value)
			if err != nil {
				s.o.Logger.Debug("sink: policy record refused, not written", slog.Int64("offset", m.Offset), slog.Any("error", err))
				continue
			}
			vs = append(vs, clickhouse.PolicyVersion{Policy: p, JSON: m.Value, Published: m.Time, FromTopic: true, KafkaOffset: m.Offset})
		}
		return nil, func(ctx context.Context) ([]kafka.Message, error) { return nil, s.ch.WritePolicyVersions(ctx, vs) }
	})
}
