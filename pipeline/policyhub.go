package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// policyHub follows the compacted hc.policy topic. A record that is not a
// valid policy is refused (dead-lettered with the reason) and the policy in
// force is kept; a valid one with a new name@version replaces it, and every
// scoring partition recomputes all its persons under it.
type policyHub struct {
	current atomic.Pointer[scoring.Policy]
	ready   gate // opened once the topic has been read to its end at start, or the hub failed
	dead    *kafka.Writer
}

func newPolicyHub(initial *scoring.Policy, dead *kafka.Writer) *policyHub {
	h := &policyHub{ready: newGate(), dead: dead}
	h.current.Store(initial)
	return h
}

// Policy returns the policy in force.
func (h *policyHub) Policy() *scoring.Policy { return h.current.Load() }

// run follows the policy topic's single partition until ctx is done (nil) or
// it fails.
func (h *policyHub) run(ctx context.Context, o *Options, kc *kafka.Client) error {
	topic := o.Topics.Policy
	err := kc.Follow(ctx, topic, 0, func() { h.ready.open(nil) }, func(m *kafka.Message) error {
		return h.apply(ctx, o, m)
	})
	if err != nil {
		err = fmt.Errorf("policy hub: %w", err)
	}
	h.ready.open(fmt.Errorf("policy hub stopped before loading %s: %v", topic, err))
	return err
}

func (h *policyHub) apply(ctx context.Context, o *Options, m *kafka.Message) error {
	p, err := wire.DecodePolicy(m.Key, m.Value)
	if err != nil {
		o.Logger.Error("policy refused; the policy in force is kept", slog.String("policy", h.Policy().Stamp()), slog.Any("error", err))
		dl := deadLetter(m, fmt.Errorf("policy refused: %w", err))
		if werr := kafka.Write(ctx, h.dead, dl); werr != nil {
			return fmt.Errorf("dead letter: %w", werr)
		}
		o.deadLettered([]kafka.Message{dl})
		return nil
	}
	if p.Stamp() == h.Policy().Stamp() {
		return nil
	}
	o.Logger.Info("policy changed; every person is recomputed", slog.String("from", h.Policy().Stamp()), slog.String("to", p.Stamp()))
	h.current.Store(p)
	return nil
}
