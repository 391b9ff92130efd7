package pipeline

import (
	"testing"

	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// Two ingest processes share src.overrides (3 partitions); one's stale
// report of a partition it lost must not move the clock past what the
// other has not forwarded.
func TestSourceClock_SeveralIngestProcesses(t *testing.T) {
	c := sourceClock{n: 3}
	tick := func(at int, parts ...wire.TickPart) { c.apply(&wire.OverrideRecord{Tick: tickTime(at), Parts: parts}) }
	check := func(name string, want int, wantAll bool) {
		t.Helper()
		if got, all := c.now(); got != tickTime(want) || all != wantAll {
			t.Errorf("%s: clock %d, all %v; want %d, %v", name, got, all, want, wantAll)
		}
	}
	// Process A reads partitions 0 and 1; partition 2 is unreported.
	tick(500, wire.TickPart{Partition: 0, Next: 10, Last: tickTime(400), AtEnd: true}, wire.TickPart{Partition: 1, Next: 5, Last: tickTime(300)})
	check("a partition no tick named", 0, false)
	// Process B reads partition 2.
	tick(200, wire.TickPart{Partition: 2, Next: 7, Last: tickTime(150)})
	check("partition 2 behind", 150, false)
	// A lost partition 1 to B; A's stale report (lower offset, at end) changes nothing.
	tick(600, wire.TickPart{Partition: 1, Next: 8, Last: tickTime(350)})
	tick(700, wire.TickPart{Partition: 1, Next: 5, Last: tickTime(300), AtEnd: true}, wire.TickPart{Partition: 2, Next: 7, Last: tickTime(650), AtEnd: true})
	check("partition 1 stays behind at its furthest report", 350, false)
	tick(700, wire.TickPart{Partition: 1, Next: 8, Last: tickTime(350), AtEnd: true})
	check("all at their end", 700, true)
}

// A partition at its end vouches only for what was written to it: its Last
// holds the clock like any other partition's until every partition is
// reported at its end by an idle ingest process; more forwarded keeps what a
// report vouched for before.
func TestSourceClock_APartitionAtItsEndHoldsTheClockAtItsLast(t *testing.T) {
	c := sourceClock{n: 2}
	tick := func(at int, parts ...wire.TickPart) { c.apply(&wire.OverrideRecord{Tick: tickTime(at), Parts: parts}) }
	check := func(name string, want int, wantAll bool) {
		t.Helper()
		if got, all := c.now(); got != tickTime(want) || all != wantAll {
			t.Errorf("%s: clock %d, all %v; want %d, %v", name, got, all, want, wantAll)
		}
	}
	tick(500, wire.TickPart{Partition: 0, Next: 3, Last: tickTime(100)}, wire.TickPart{Partition: 1, Next: 4, Last: tickTime(400)})
	check("both at their end, ingest not idle", 100, false)
	tick(500, wire.TickPart{Partition: 0, Next: 3, Last: tickTime(500), AtEnd: true}, wire.TickPart{Partition: 1, Next: 4, Last: tickTime(500), AtEnd: true})
	check("both at their end, ingest idle", 500, true)
	tick(900, wire.TickPart{Partition: 1, Next: 5, Last: tickTime(800)})
	check("partition 1 read further, partition 0 still at its end", 500, false)
	tick(900, wire.TickPart{Partition: 0, Next: 3, Last: tickTime(100)})
	check("partition 0 looked at again, not idle: it keeps what it vouched for", 500, false)
	tick(900, wire.TickPart{Partition: 0, Next: 4, Last: tickTime(300)})
	check("partition 0 read further, an older override: it keeps what it vouched for", 500, false)
}

func tickTime(s int) scoring.Time { return scoring.Time(s) }
