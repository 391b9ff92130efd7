package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
)

// pkey names one partition of one group's input.
type pkey struct {
	group, topic string
	partition    int
}

func byKey(l pipeline.Lag) map[pkey]int64 {
	m := make(map[pkey]int64, len(l))
	for _, v := range l {
		m[pkey{v.Group, v.Topic, v.Partition}] = v.Committed
	}
	return m
}

// pendingOf lists the partitions with uncommitted input, optionally only of
// groups whose name contains one of only.
func pendingOf(l pipeline.Lag, only ...string) []pkey {
	var out []pkey
	for _, v := range l {
		if v.Lag == 0 {
			continue
		}
		if len(only) > 0 && !slices.ContainsFunc(only, func(s string) bool { return strings.Contains(v.Group, s) }) {
			continue
		}
		out = append(out, pkey{v.Group, v.Topic, v.Partition})
	}
	return out
}

// recovery is what a fault's recovery measure found.
type recovery struct {
	took     time.Duration // fault to progress on every stalled partition
	stalled  int           // partitions that had uncommitted input at the fault
	err      error         // not recovered within the deadline
	lastLag  int64
	stuckOne string // a partition still stalled at the deadline
}

// measureRecovery returns the time from t0 (the fault) until every partition
// that had uncommitted input at the fault (before: the lag then; baseline:
// the committed offsets progress is measured from) has committed more, or
// has committed everything. If no partition had input at the fault, the
// first partitions that get some after it are measured instead. Committed
// offsets cannot move while no worker runs, so a baseline taken after a
// SIGKILL is exact.
func (s *stack) measureRecovery(ctx context.Context, t0 time.Time, before pipeline.Lag, baseline pipeline.Lag, only ...string) recovery {
	pending := pendingOf(before, only...)
	base := byKey(baseline)
	first := byKey(before)
	r := recovery{stalled: len(pending)}
	deadline := t0.Add(s.o.Deadline)
	for {
		now, err := s.lag(ctx)
		if err == nil {
			if len(pending) == 0 {
				pending = pendingOf(now, only...)
				r.stalled = len(pending)
			}
			cur := map[pkey]kafka.PartitionLag{}
			for _, v := range now {
				cur[pkey{v.Group, v.Topic, v.Partition}] = v
			}
			pending = slices.DeleteFunc(pending, func(k pkey) bool {
				v := cur[k]
				return v.Committed > base[k] || (v.Lag == 0 && v.Committed > first[k])
			})
			r.lastLag = now.Total()
			if len(pending) == 0 && r.stalled > 0 {
				r.took = time.Since(t0)
				return r
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if len(pending) > 0 {
				k := pending[0]
				r.stuckOne = fmt.Sprintf("%s %s/%d", k.group, k.topic, k.partition)
			}
			r.err = fmt.Errorf("no progress on %d of %d stalled partitions within %s (e.g. %s)", len(pending), r.stalled, s.o.Deadline, r.stuckOne)
			return r
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lagRetry is lag, retried (a broker restarting) until the deadline.
func (s *stack) lagRetry(ctx context.Context) (pipeline.Lag, error) {
	var l pipeline.Lag
	err := waitFor(s.o.Deadline, s.name+" lag", func() error {
		var err error
		l, err = s.lag(ctx)
		return err
	})
	return l, err
}

// counts are the ClickHouse row counts (without FINAL) drained compares.
type counts [4]uint64

var countedTables = [4]string{"events", "colour_changes", "colours_current", "exposures"}

func (s *stack) rowCounts(ctx context.Context) (counts, error) {
	var c counts
	cl, err := s.clickhouse(ctx)
	if err != nil {
		return c, err
	}
	defer cl.Close()
	for i, t := range countedTables {
		if c[i], err = cl.Count(ctx, t, false); err != nil {
			return c, err
		}
	}
	return c, nil
}

// waitDrained returns once the run is drained: the simulator has finished,
// every group has committed the end of every partition of its input, and
// the ClickHouse row counts have stopped changing, seen twice Settle apart
// with nothing moved in between (an idle stretch of a stalled run keeps lag
// above zero, so it is never taken for drained).
func (s *stack) waitDrained(ctx context.Context, f *feeder) (time.Time, error) {
	deadline := time.Now().Add(s.o.Deadline * 3)
	var prevLag pipeline.Lag
	var prevCounts counts
	have := false
	for {
		if time.Now().After(deadline) {
			l, _ := s.lag(ctx)
			return time.Time{}, fmt.Errorf("%s: not drained within %s (lag %d)", s.name, s.o.Deadline*3, l.Total())
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		done, ferr := f.finished()
		if ferr != nil {
			return time.Time{}, fmt.Errorf("feed: %w", ferr)
		}
		l, err := s.lag(ctx)
		var c counts
		if err == nil && done && l.Total() == 0 {
			c, err = s.rowCounts(ctx)
		}
		if err != nil || !done || l.Total() != 0 {
			have = false
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if have && c == prevCounts && slices.Equal(l, prevLag) {
			return time.Now(), nil
		}
		prevLag, prevCounts, have = l, c, true
		time.Sleep(s.o.Settle)
	}
}

// settle waits until the step in hand is done: the feeder has written all it
// may, and every group has committed all of its input, seen twice half a
// second apart. Steps end on this barrier in both runs, so both see the input in the
// same steps.
func (s *stack) settle(ctx context.Context) error {
	zero := 0
	return waitFor(s.o.Deadline*2, s.name+" step drained", func() error {
		if done, err := s.feed.finished(); done && err != nil {
			return err
		}
		l, err := s.lag(ctx)
		if err != nil || !s.feed.reached() || l.Total() != 0 {
			zero = 0
			if err == nil {
				err = fmt.Errorf("lag %d", l.Total())
			}
			return err
		}
		if zero++; zero < 2 {
			time.Sleep(500 * time.Millisecond)
			return errors.New("once")
		}
		return nil
	})
}
