package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"healthcode/pipeline/kafka"
)

// kafka-go rebalances eagerly: every new generation of a consumer group stops
// every partition handler of every member, and restarts those of the
// partitions a member is assigned again. The assignment is sticky
// (pipeline/kafka/sticky.go), so most partitions come back to the member that
// had them; their state (the score stage's engine, the trace stage's index)
// is kept here, in a per-stage cache, instead of being restored from Kafka.
//
// A handler that stops cleanly (its last batch written, acknowledged and
// committed, or nothing in hand) puts its partition's state in the cache with
// the offset it committed last. The next handler of the partition in this
// process takes it back if and only if
//
//   - the generation's committed offset is that same offset: no other member
//     committed anything on the partition meanwhile, and
//   - for the score stage, the changelog partition ends where it ended when
//     the state was kept: no other member wrote state records either (it may
//     have processed input without committing it, and its records would then
//     say more than the kept engine knows).
//
// Otherwise the kept state is dropped and the partition restored as on a
// first assignment. A handler that stops with a batch half-done keeps
// nothing: its engine may be ahead of what was written. State of partitions
// the member is no longer assigned is dropped when the next generation's
// handlers start.

// keptState is one partition's state as its handler left it.
type keptState[T any] struct {
	next    int64 // offset committed last (the claim's, if none since): where the state stands
	witness int64 // the changelog partition's end offset when kept (score), or 0
	state   T
}

// stateCache holds the kept state of the partitions of one stage.
type stateCache[T any] struct {
	mu sync.Mutex // protects m
	m  map[int]keptState[T]
}

func (c *stateCache[T]) put(p int, k keptState[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int]keptState[T]{}
	}
	c.m[p] = k
}

// take removes partition p's kept state and returns it, after dropping the
// state of every partition not in assigned (the member's partitions in the
// new generation).
func (c *stateCache[T]) take(p int, assigned []int) (keptState[T], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.m {
		if !slices.Contains(assigned, q) {
			delete(c.m, q)
		}
	}
	k, ok := c.m[p]
	delete(c.m, p)
	return k, ok
}

// reuse returns the engine kept for c's partition if it is still exact
// (see above), or nil.
func (s *score) reuse(ctx context.Context, c kafka.Claim, log *slog.Logger) *part {
	k, ok := s.kept.take(c.Partition, c.Assigned)
	if !ok {
		return nil
	}
	if k.next != c.Offset {
		log.Info("kept state dropped: another member committed meanwhile", slog.Int64("kept_at", k.next), slog.Int64("committed", c.Offset))
		return nil
	}
	ends, err := s.kc.EndOffsets(ctx, s.o.Topics.State, c.Partition)
	if err != nil || ends[c.Partition] != k.witness {
		log.Info("kept state dropped: the changelog moved meanwhile", slog.Int64("kept_at", k.next))
		return nil
	}
	s.o.Metrics.PartitionsKept.Add(1)
	log.Info("partition state kept across the rebalance", slog.Int("persons", k.state.eng.Len()), slog.Int64("committed", c.Offset))
	// Held events come again from the committed offset (lateness.go).
	k.state.held, k.state.readTo = k.state.held[:0], 0
	return k.state
}

// keep puts a cleanly stopped partition's engine in the cache; next is the
// offset committed last. fin is the handler's finishing context.
func (s *score) keep(fin context.Context, pt *part, next int64) {
	ends, err := s.kc.EndOffsets(fin, s.o.Topics.State, pt.p)
	if err != nil {
		return // without the witness the state could not be trusted later
	}
	s.kept.put(pt.p, keptState[*part]{next: next, witness: ends[pt.p], state: pt})
}

// reuse returns the index kept for c's partition if no other member committed
// on the partition since, or nil. The index is a pure function of the
// partition's input up to the committed offset, so that offset is the only
// witness needed.
func (t *trace) reuse(c kafka.Claim, log *slog.Logger) *tracePart {
	k, ok := t.kept.take(c.Partition, c.Assigned)
	if !ok {
		return nil
	}
	if k.next != c.Offset {
		log.Info("kept index dropped: another member committed meanwhile", slog.Int64("kept_at", k.next), slog.Int64("committed", c.Offset))
		return nil
	}
	t.o.Metrics.PartitionsKept.Add(1)
	log.Info("place index kept across the rebalance", slog.Int("presences", k.state.tr.Len()), slog.Int64("committed", c.Offset))
	return k.state
}

// keep puts a cleanly stopped partition's index in the cache.
func (t *trace) keep(tp *tracePart, next int64) {
	t.kept.put(tp.p, keptState[*tracePart]{next: next, state: tp})
}

// RestorePartition restores the scoring engine of partition p from the
// changelog exactly as an assigned partition does, without consuming any
// input, and returns how many persons it loaded: the restore benchmark's
// measure (bench/takeover.go).
func (p *Pipeline) RestorePartition(ctx context.Context, partition int) (int, error) {
	s := &score{o: &p.o, kc: p.kc}
	pt := &part{s: s, p: partition, eng: p.o.newEngine()}
	if err := pt.restore(ctx); err != nil {
		return 0, fmt.Errorf("restore partition %d: %w", partition, err)
	}
	return pt.eng.Len(), nil
}
