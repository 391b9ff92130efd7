package pipeline

import (
	"context"
	"testing"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/sources"
)

// An ingest process assigned a partition of src.overrides whose committed
// offset is its end has nothing to read there, so it would never report it.
// If the partition's last reader stopped before telling the guard it was at
// its end, the guard's clock would wait for it for good (an override held
// pending after a takeover: seen in TestScaleOut_ThreeProcesses). The tick
// must report such a partition at its committed offset, at its end, and must
// not report one whose commit is behind the end before reading it.
func TestOverrideTick_ReportsAssignedPartitionsAtTheirEnd(t *testing.T) {
	kc := testClient(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := sources.StreamOverrides.DefaultTopic()
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	w := kc.NewWriter(topic, kafka.PartitionBalancer{})
	var msgs []kafka.Message
	for i := range 4 { // 3 on partition 0, 1 on partition 1, partition 2 empty
		msgs = append(msgs, kafka.Message{Partition: min(i/3, 1), Value: []byte("{}")})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	o := &Options{Clock: ClockEvent}
	o.Topics.Sources = map[sources.Stream]string{sources.StreamOverrides: topic}
	in := &ingest{o: o, kc: kc}
	tick := func(assigned map[int]int64) map[int]wire.TickPart {
		t.Helper()
		out := &ingestOut{}
		in.overrideTick(ctx, out, assigned)
		got := map[int]wire.TickPart{}
		for _, m := range out.overs {
			r, err := wire.DecodeOverrideRecord(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Parts {
				got[p.Partition] = p
			}
		}
		return got
	}

	// Assigned partition 0 at its end (committed 3), partition 1 behind (committed 0).
	got := tick(map[int]int64{0: 3, 1: 0})
	if p, ok := got[0]; !ok || p.Next != 3 || !p.AtEnd {
		t.Errorf("partition 0, committed at its end: reported %+v (%v), want next 3 at its end", p, ok)
	}
	if p, ok := got[1]; ok {
		t.Errorf("partition 1, committed behind its end and not read: reported %+v, want no report", p)
	}
	if p, ok := got[2]; !ok || p.Next != 0 || !p.AtEnd {
		t.Errorf("empty partition 2: reported %+v (%v), want next 0 at its end", p, ok)
	}
	if again := tick(map[int]int64{0: 3, 1: 0}); len(again) != 0 {
		t.Errorf("an unchanged report was sent again: %+v", again)
	}

	// This process had read partition 0 to offset 2 in an earlier
	// generation; another committed 3 since and it is assigned 0 again.
	in.ovr = overrideClock{}
	in.ovr.read(&kafka.Message{Partition: 0, Offset: 1}, nil)
	if p := tick(map[int]int64{0: 3})[0]; p.Next != 3 || !p.AtEnd {
		t.Errorf("partition 0 read to 2 before, committed 3 by another: reported %+v, want next 3 at its end", p)
	}
	// Not assigned: what this process read itself, as before.
	in.ovr = overrideClock{}
	in.ovr.read(&kafka.Message{Partition: 0, Offset: 1}, nil)
	if p := tick(nil)[0]; p.Next != 2 || p.AtEnd {
		t.Errorf("partition 0 read to 2, not assigned: reported %+v, want next 2 not at its end", p)
	}
}
