package pipeline

import (
	"testing"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/scoring"
)

// With a lateness of an hour, a batch applies in time order what the
// watermark (clock less an hour) has passed, holds the rest, and commits up
// to the first message with an event held; a quiet fetch applies the rest.
func TestRelease_AppliesUpToTheWatermarkInTimeOrder(t *testing.T) {
	pt := holdingPart(t)
	t0 := scoring.MustTime("2020-03-01T08:00:00Z")
	person := func(n byte) scoring.PersonKey { return scoring.PersonKey{n, 1, 2, 3} }
	checkin := func(n byte, at scoring.Time, offset int64) {
		ev := scoring.Event{Kind: scoring.KindCheckin, Person: person(n), At: at, End: at + 600, Place: "V1", ID: string('a' + rune(n)), Source: "venue-app"}
		pt.hold(&kafka.Message{Partition: 0, Offset: offset}, &ev)
	}
	checkin(1, t0+2*3600, 5) // 10:00
	checkin(2, t0+1*3600, 6) // 09:00
	checkin(3, t0+4*3600, 7) // 12:00: the clock; the watermark is 11:00
	if next := fetchedRelease(pt, 8, 0); next != 7 {
		t.Errorf("commit offset %d, want 7: the message of the event still held", next)
	}
	if len(pt.updates) != 2 || pt.updates[0].Person != person(2) || pt.updates[1].Person != person(1) ||
		pt.updates[0].Effective != t0+3600 || pt.updates[1].Effective != t0+2*3600 {
		t.Fatalf("updates %+v: want the 09:00 person's first version, then the 10:00 one's", pt.updates)
	}
	if len(pt.held) != 1 || pt.held[0].ev.Person != person(3) {
		t.Fatalf("held %d events, want the 12:00 one", len(pt.held))
	}
	if got := pt.settled(); got != t0+3*3600 {
		t.Errorf("timers fire up to %v, want the watermark", got)
	}
	pt.updates = pt.updates[:0]
	if next := fetchedRelease(pt, -1, 7); next != 8 || len(pt.held) != 0 || len(pt.updates) != 1 || pt.updates[0].Person != person(3) {
		t.Errorf("quiet: commit %d, held %d, updates %+v: want everything applied and commit 8", next, len(pt.held), pt.updates)
	}
	if got := pt.settled(); got != t0+4*3600 {
		t.Errorf("quiet: timers fire up to %v, want the clock", got)
	}
	if next := fetchedRelease(pt, -1, 8); next != -1 {
		t.Errorf("nothing new read: commit %d, want none", next)
	}
}

// holdingPart is a score partition on the event clock with a lateness of an
// hour, under the shipped domestic policy.
func holdingPart(t *testing.T) *part {
	t.Helper()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Clock: ClockEvent, Lateness: time.Hour, Policy: pol, Partitions: 1}
	o.setDefaults()
	return &part{s: &score{o: o}, eng: o.newEngine()}
}

// fetchedRelease counts a fetch, then releases, as the score loop does.
func fetchedRelease(pt *part, next, committed int64) int64 {
	pt.fetched()
	return pt.release(next, committed)
}
