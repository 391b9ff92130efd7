package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/guard"
	"healthcode/sources"
)

// overrideRig is one ingest process and the override guard fed by it, on an
// embedded broker's src.overrides: the test writes what a producer writes,
// says what ingest has read, and the ticks ingest would write reach the guard
// as they would through hc.overrides.
type overrideRig struct {
	t     *testing.T
	ctx   context.Context
	kc    *kafka.Client
	w     *kafka.Writer
	o     *Options
	in    *ingest
	gp    *guardPart
	ends  map[int]int64 // what the test wrote, per partition
	hc    int64         // the next offset of hc.overrides
	order []string      // ids in the order the guard decided them
	wall  time.Time     // ingest's wall clock: it stands still unless a test moves it
}

func newOverrideRig(t *testing.T, parts int) *overrideRig {
	t.Helper()
	kc := testClient(t, parts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	topic := sources.StreamOverrides.DefaultTopic()
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: topic, Partitions: parts}); err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Clock: ClockEvent, Policy: pol, Logger: slog.Default()}
	o.Topics.Sources = map[sources.Stream]string{sources.StreamOverrides: topic}
	w := kc.NewWriter(topic, kafka.PartitionBalancer{})
	t.Cleanup(func() { w.Close() })
	r := &overrideRig{t: t, ctx: ctx, kc: kc, w: w, o: o, ends: map[int]int64{}, wall: time.Unix(1583200000, 0)}
	r.newIngest()
	r.newGuard()
	return r
}

// newIngest starts an ingest process that has read nothing.
func (r *overrideRig) newIngest() {
	r.in = &ingest{o: r.o, kc: r.kc}
	r.in.ovr.now = func() time.Time { return r.wall }
}

// newGuard starts a guard with no state (it reads hc.overrides from the start).
func (r *overrideRig) newGuard() {
	r.gp = &guardPart{s: &guardStage{o: r.o, kc: r.kc}, log: slog.Default(), g: guard.New(r.o.Policy, guard.Options{})}
}

// override is an override to green at hh:mm:ss on 2020-03-03 (+08:00).
func override(id, at string) scoring.Override {
	var person, officer scoring.PersonKey
	copy(person[:], id)
	copy(officer[:], "officer")
	t := scoring.MustTime("2020-03-03T" + at + "+08:00")
	return scoring.Override{ID: id, Source: "desk", Person: person, Level: 0, At: t, Until: t.Add(24 * time.Hour),
		Reason: "appeal", Officer: officer, Approver: officer}
}

// write writes one message per override to its partition of src.overrides.
func (r *overrideRig) write(p int, os ...scoring.Override) []kafka.Message {
	r.t.Helper()
	var msgs []kafka.Message
	for _, o := range os {
		msgs = append(msgs, kafka.Message{Partition: p, Value: []byte(`{"event_id":"` + o.ID + `"}`)})
	}
	if err := r.w.WriteMessages(r.ctx, msgs...); err != nil {
		r.t.Fatal(err)
	}
	for i := range msgs {
		msgs[i].Offset = r.ends[p]
		r.ends[p]++
	}
	return msgs
}

// batch is one ingest batch that read os from partition p (written before),
// with the event clock of other streams at upTo if later; its overrides and
// tick go to the guard, which then advances as after a fetch.
func (r *overrideRig) batch(p int, upTo string, os ...scoring.Override) {
	r.t.Helper()
	msgs := r.write(p, os...)
	out := &ingestOut{in: msgs}
	for i, o := range os {
		r.in.ovr.read(&msgs[i], []scoring.Override{o})
		out.overs = r.in.appendOverrides(out.overs, &msgs[i], []scoring.Override{o}, out)
	}
	if upTo != "" {
		r.in.maxAt = max(r.in.maxAt, override("", upTo).At)
	}
	r.in.overrideTick(r.ctx, out, nil)
	r.deliver(out)
}

// idle is ingest's look after a second without input.
func (r *overrideRig) idle(assigned map[int]int64) {
	r.t.Helper()
	out := &ingestOut{}
	r.in.overrideTick(r.ctx, out, assigned)
	r.deliver(out)
}

func (r *overrideRig) deliver(out *ingestOut) {
	r.t.Helper()
	gp := r.gp
	for i := range out.overs {
		out.overs[i].Offset = r.hc
		r.hc++
		gp.apply(r.ctx, &out.overs[i])
	}
	now, err := gp.now(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	gp.g.Advance(now, &gp.out)
	for _, e := range gp.out.Entries {
		r.order = append(r.order, e.Override.ID)
	}
	gp.out = guard.Output{}
}

func (r *overrideRig) decided() string { return strings.Join(r.order, " ") }

// A producer writes a burst to two partitions of src.overrides in one call;
// kafka-go sends each partition's batch on its own, so partition 1's part
// (10:05:24) can land, and be read to its end, while partition 0's older
// part (10:04) has not landed yet. At that moment both partitions are at
// their end, but partition 0 vouches only for what was written to it: the
// guard must not decide 10:05:24 until partition 0 has moved past it, nor
// take the ingest event clock of other streams (12:00) for the partitions'.
// TestEndToEnd_OverrideBurst failed once so: the 28th override of the burst
// raised the alert the 21st should have, the 21st to 27th were decided
// after it.
func TestOverrideClock_APartitionAtItsEndHoldsTheClockForWhatLandsLater(t *testing.T) {
	r := newOverrideRig(t, 2)
	r.batch(0, "", override("a", "10:00:00"))
	r.batch(1, "", override("b", "10:01:00"))
	r.idle(nil) // between two writes: everything written was read
	if got := r.decided(); got != "a b" {
		t.Fatalf("after the first write and a second without input, decided %q; want \"a b\"", got)
	}
	// The second write: partition 1's part landed and was read (with other
	// streams' events up to 12:00); partition 0's has not landed.
	r.batch(1, "12:00:00", override("d", "10:05:24"))
	if got := r.decided(); got != "a b" {
		t.Fatalf("partition 0 at its end before its part of the write landed: decided %q; want d to wait for it", got)
	}
	r.batch(0, "", override("c", "10:04:00"))
	r.idle(nil)
	if got := r.decided(); got != "a b c d" {
		t.Errorf("decided %q; want \"a b c d\" (time order)", got)
	}
}

// A takeover (7a6c65d): the ingest process that read both partitions
// stopped before a second without input, so the guard's last ticks do not
// report them idle at their end and an override waits. The next process,
// assigned both at their committed end, reads nothing: its look after a
// second without input lets the guard decide what waits.
func TestOverrideClock_ATakeoverAtTheCommittedEndDecidesWhatWaits(t *testing.T) {
	r := newOverrideRig(t, 2)
	r.batch(0, "", override("x", "10:00:00"))
	r.batch(1, "10:30:00", override("y", "09:00:00"))
	if got := r.decided(); got != "" {
		t.Fatalf("decided %q before ingest was idle; want none yet (x within the settling time of the clock)", got)
	}
	r.newIngest() // the next process
	r.idle(map[int]int64{0: r.ends[0], 1: r.ends[1]})
	if got := r.decided(); got != "y x" {
		t.Errorf("after the takeover's idle look, decided %q; want \"y x\"", got)
	}
}

// The guard commits hc.overrides only up to the first override that still
// waits for the event clock, so a pipeline whose lag is 0 has decided what it
// read; in wall-clock mode it commits the batch.
func TestGuard_CommitsUpToTheFirstOverrideWaiting(t *testing.T) {
	r := newOverrideRig(t, 1)
	r.batch(0, "", override("a", "10:00:00")) // offset 0 of hc.overrides, then its tick at 1
	if got := r.gp.commitTo(2); got != 0 {
		t.Errorf("with a waiting at offset 0: commit %d, want 0", got)
	}
	r.idle(nil) // offset 2: a decided
	if got := r.gp.commitTo(3); got != 3 || r.decided() != "a" {
		t.Errorf("a decided (%q): commit %d, want 3", r.decided(), got)
	}
	r.o.Clock = ClockWall
	r.newGuard()
	r.gp.apply(r.ctx, &kafka.Message{Offset: 7, Value: mustOverrideRecord(t, override("b", "10:00:00"))})
	if got := r.gp.commitTo(8); got != 8 {
		t.Errorf("wall clock, b waiting: commit %d, want 8", got)
	}
}

func mustOverrideRecord(t *testing.T, o scoring.Override) []byte {
	t.Helper()
	out := &ingestOut{}
	in := &ingest{}
	msgs := in.appendOverrides(nil, &kafka.Message{}, []scoring.Override{o}, out)
	if len(msgs) != 1 {
		t.Fatal(fmt.Sprint("override did not encode: ", out.dead))
	}
	return msgs[0].Value
}

// While input flows, a partition at its end vouches for ingest's event clock
// as it stood a second (idleTick) before, so overrides are decided as input
// goes on, not only once it stops.
func TestOverrideTick_AtItsEndVouchesForTheClockOfASecondBefore(t *testing.T) {
	r := newOverrideRig(t, 2)
	r.batch(0, "10:00:00", override("x", "09:00:00"))
	r.wall = r.wall.Add(idleTick / 2)
	r.batch(1, "11:00:00", override("y", "09:30:00"))
	if got := r.decided(); got != "" {
		t.Fatalf("decided %q within a second of the input; want none", got)
	}
	r.wall = r.wall.Add(idleTick * 3 / 4) // the first look is a second old
	r.in.maxAt = override("", "12:00:00").At
	out := &ingestOut{in: []kafka.Message{{Topic: "src.checkins"}}} // input of another stream
	r.in.overrideTick(r.ctx, out, nil)
	r.deliver(out)
	for p, want := range map[int]string{0: "10:00:00", 1: "10:00:00"} {
		if st := r.gp.clk.parts[p]; st.Last != override("", want).At || st.AtEnd {
			t.Errorf("partition %d: reported %+v; want Last %s (the event clock of the look a second before), not idle at its end", p, st, want)
		}
	}
	if got := r.decided(); got != "x y" {
		t.Errorf("decided %q; want \"x y\" while input flows", got)
	}
}
