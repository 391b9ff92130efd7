package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// The trace stage follows the published policy (hc.policy, through the
// process's policy hub). What it recomputes when the policy in force changes
// is in docs/policies.md ("What follows a published policy"):
//
//   - contact parameters unchanged (only rules, texts, colours): nothing; the
//     tracer takes the new policy for later presences;
//   - contact parameters changed (the contacts block, or the default stays
//     and region_min_stay that shape presences): the tracer is rebuilt under
//     the new policy by replaying its hc.presence partition from the first
//     retained offset to the last applied, and the exposures the new
//     definitions find are sent (the ones found before come out with the same
//     deterministic ids and are absorbed downstream);
//   - a changed companion_h3_res also moves cell presences: a replayed
//     presence whose cell at the new resolution belongs to another partition
//     is forwarded there on hc.presence, and skipped here.

// contactsChanged reports whether the tracer's results under b can differ
// from those under a.
func contactsChanged(a, b *scoring.Policy) bool {
	return a.Contacts != b.Contacts ||
		a.Params.CheckinDefaultStay != b.Params.CheckinDefaultStay ||
		a.Params.TravelDefaultStay != b.Params.TravelDefaultStay ||
		a.Params.RegionMinStay != b.Params.RegionMinStay
}

// followPolicy switches the partition to the policy in force, re-deriving
// what depends on the contact parameters.
func (tp *tracePart) followPolicy(ctx context.Context, log *slog.Logger) error {
	p := tp.t.policies.Policy()
	if p == tp.pol {
		return nil
	}
	old := tp.pol
	tp.pol = p
	if !contactsChanged(old, p) {
		return nil
	}
	start := time.Now()
	tp.tr = tracing.New(p, tracing.Options{})
	tp.found, tp.dead = tp.found[:0], tp.dead[:0]
	err := tp.t.kc.Replay(ctx, tp.t.o.Topics.Presence, tp.p, tp.next, func(m *kafka.Message) error {
		tp.apply(m)
		return nil
	})
	if err != nil {
		return ignoreCancel(fmt.Errorf("partition %d: re-derive under %s: %w", tp.p, p.Stamp(), err))
	}
	tp.tr.Expire(tp.clock)
	tp.expired = tp.clock
	found, forwarded := len(tp.found), tp.forwards()
	if err := tp.flush(ctx); err != nil {
		return err
	}
	log.Info("place index re-derived under a new policy", slog.String("from", old.Stamp()), slog.String("to", p.Stamp()),
		slog.Int("presences", tp.tr.Len()), slog.Int("exposures", found), slog.Int("forwarded", forwarded), slog.Duration("took", time.Since(start)))
	return nil
}

// owns reports whether presence pr of event ev belongs to this partition
// under the tracer's policy. A cell presence routed by another resolution
// (published before or after the score stage switched) belongs where its cell
// at this resolution is placed: it is forwarded there, unless rebuilding (the
// partition forwarded it when it first switched).
func (tp *tracePart) owns(ev *scoring.Event, pr *tracing.Presence) bool {
	if pr.Kind != tracing.PlaceCell {
		return true
	}
	n := tp.t.o.Partitions
	q := placePartition(pr.PlaceKey(), n)
	if q == tp.p {
		return true
	}
	if !tp.replay {
		if tp.forward == nil {
			tp.forward = make([][]scoring.Event, n)
		}
		tp.forward[q] = append(tp.forward[q], *ev)
	}
	return false
}

func (tp *tracePart) forwards() int {
	n := 0
	for _, evs := range tp.forward {
		n += len(evs)
	}
	return n
}

// sendForwards writes the presences that belong to other partitions.
func (tp *tracePart) sendForwards(ctx context.Context) error {
	if tp.forwards() == 0 {
		return nil
	}
	var msgs []kafka.Message
	for q, evs := range tp.forward {
		msgs = appendEventMessages(msgs, q, evs, tp.t.o.eventBudget())
		tp.forward[q] = evs[:0]
	}
	if err := writeInOrder(ctx, output{tp.t.presence, msgs}); err != nil {
		return fmt.Errorf("partition %d: forward presences: %w", tp.p, err)
	}
	return nil
}
