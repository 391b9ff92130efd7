package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"healthcode/scoring"
)

// PolicyKey is the key of policy records on the policy topic (compacted: the
// latest record is the policy in force).
const PolicyKey = "policy"

// policyHub follows the compacted hc.policy topic. A record that is not a
// valid policy is refused (dead-lettered with the reason) and the policy in
// force is kept; a valid one with a new name@version replaces it, and every
// scoring partition recomputes all its persons under it.
type policyHub struct {
	current atomic.Pointer[scoring.Policy]
	ready   chan struct{} // closed once the topic has been read to its end at start
	dead    *kafka.Writer
}

func newPolicyHub(initial *scoring.Policy, dead *kafka.Writer) *policyHub {
	h := &policyHub{ready: make(chan struct{}), dead: dead}
	h.current.Store(initial)
	return h
}

// Policy returns the policy in force.
func (h *policyHub) Policy() *scoring.Policy { return h.current.Load() }

func (h *policyHub) run(ctx context.Context, o *Options) error {
	topic := o.Topics.Policy
	ends, err := endOffsets(ctx, o.Kafka.Brokers, topic, 0)
	if err != nil {
		return fmt.Errorf("policy hub: %w", err)
	}
	end := ends[0]
	if end <= 0 {
		close(h.ready)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Kafka.Brokers, Topic: topic, Partition: 0,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return fmt.Errorf("policy hub: %w", err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return ignoreCancel(err)
		}
		if err := h.apply(ctx, o, &m); err != nil {
			return err
		}
		if end > 0 && m.Offset+1 == end {
			close(h.ready)
		}
	}
}

func (h *policyHub) apply(ctx context.Context, o *Options, m *kafka.Message) error {
	p, err := scoring.ParsePolicy(m.Value)
	if err != nil {
		o.Logger.Error("policy refused; the policy in force is kept", slog.String("policy", h.Policy().Stamp()), slog.Any("error", err))
		if werr := h.dead.WriteMessages(ctx, deadLetter(m, fmt.Errorf("policy refused: %w", err))); werr != nil {
			return ignoreCancel(fmt.Errorf("policy hub: dead letter: %w", werr))
		}
		o.Metrics.DeadLetters.Add(1)
		return nil
	}
	if p.Stamp() == h.Policy().Stamp() {
		return nil
	}
	o.Logger.Info("policy changed; every person is recomputed", slog.String("from", h.Policy().Stamp()), slog.String("to", p.Stamp()))
	h.current.Store(p)
	return nil
}
