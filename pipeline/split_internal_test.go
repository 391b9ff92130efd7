package pipeline

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// maximalEvents returns n events with every string at its largest legal size
// (sources/text.go: a 256-byte event id, 64-byte source and venue id, a
// 2,000-byte reason), random printable text so that compression helps little.
func maximalEvents(r *rand.Rand, n int) []scoring.Event {
	text := func(size int) string {
		var b strings.Builder
		for b.Len() < size {
			b.WriteByte(byte('!' + r.IntN('~'-'!'+1)))
		}
		return b.String()
	}
	at := scoring.MustTime("2020-03-10T08:00:00Z")
	evs := make([]scoring.Event, n)
	for i := range evs {
		var k scoring.PersonKey
		for j := range k {
			k[j] = byte(r.Uint32())
		}
		evs[i] = scoring.Event{Person: k, Kind: scoring.KindOverride, At: at, End: at.Add(7 * 24 * time.Hour), Level: 2,
			ID: text(256), Source: text(64), Place: text(64), Country: "CHN", Text: text(2000)}
	}
	return evs
}

// TestAppendEventMessages_SplitsByBytes: 4,000 maximal legal events (about
// 10 MB) are split into messages under the budget, in order, and every one of
// them is accepted by kfake with its default limit (message.max.bytes 1 MiB)
// through a writer with kafka.Config's defaults.
func TestAppendEventMessages_SplitsByBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs := maximalEvents(rand.New(rand.NewPCG(7, 8)), maxEventsPerMessage)
	o := &Options{}
	budget := o.eventBudget()
	msgs := appendEventMessages(nil, 2, evs, budget)
	if len(msgs) < 10 {
		t.Fatalf("%d messages for 4,000 maximal events, want them split by bytes", len(msgs))
	}
	var back []scoring.Event
	for i, m := range msgs {
		if len(m.Value) > budget || m.Partition != 2 {
			t.Errorf("message %d: %d bytes (budget %d), partition %d", i, len(m.Value), budget, m.Partition)
		}
		var err error
		if back, err = wire.DecodeEvents(m.Value, back); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(back, evs) {
		t.Fatal("the messages do not hold the events in order")
	}

	kc := testClient(t, 4)
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: "hc.person-events", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	w := kc.NewWriter("hc.person-events", kafka.PartitionBalancer{})
	defer w.Close()
	if err := kafka.Write(ctx, w, msgs...); err != nil {
		t.Fatalf("write %d messages of maximal events: %v", len(msgs), err)
	}
	ends, err := kc.EndOffsets(ctx, "hc.person-events", 2)
	if err != nil || ends[2] != int64(len(msgs)) {
		t.Fatalf("partition 2 ends at %v (%v), want %d", ends, err, len(msgs))
	}
	// What the count alone made of them fails: one message over the limit.
	one, err := wire.EncodeEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	if err := kafka.Write(ctx, w, kafka.Message{Partition: 2, Value: one}); err == nil {
		t.Errorf("a %d-byte message was accepted: the test does not exercise the limit", len(one))
	}
}
