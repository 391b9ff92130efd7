package pipeline

import (
	"fmt"
	"testing"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
)

// An exposure is applied at its key, the case's reported_at plus a lateness
// per hop, however the trace stage batched it: a close contact and a
// companion exposure of one case give the same versions in either order of
// arrival and split over any releases before their key; one past the clock
// waits for settleFetches fetches without input; of two versions of one
// exposure applied together only the higher is applied.
func TestRelease_ExposuresAtTheirKey(t *testing.T) {
	t0 := scoring.MustTime("2020-03-01T08:00:00Z")
	exposed, other := scoring.PersonKey{7, 1, 2, 3}, scoring.PersonKey{8, 1, 2, 3}
	caseKey := scoring.PersonKey{9, 1, 2, 3}
	reported := t0 + 9*3600
	exposure := func(kind scoring.ExposureKind, id string, at scoring.Time, version uint64) scoring.Event {
		return scoring.Event{Kind: scoring.KindExposure, Sub: uint8(kind), Person: exposed, At: at, First: at, End: reported,
			Place: "v:V1", ID: id, Source: "tracing", Version: version, Text: caseKey.String()}
	}
	closeEv := exposure(scoring.ExposureClose, "exp-close", t0+5*3600, 1<<16)
	companion := exposure(scoring.ExposureCompanion, "exp-companion", t0+5*3600, 2<<16)
	upstream := func(at scoring.Time) scoring.Event {
		return scoring.Event{Kind: scoring.KindCheckin, Person: other, At: at, End: at + 600, Place: "V2", ID: fmt.Sprint("c", at), Source: "venue-app"}
	}
	// run holds the batches in turn, releasing after each, and returns the
	// exposed person's updates.
	run := func(batches ...[]scoring.Event) []string {
		pt := holdingPart(t)
		offset := int64(0)
		for _, b := range batches {
			for i := range b {
				pt.hold(&kafka.Message{Offset: offset}, &b[i])
				offset++
			}
			fetchedRelease(pt, offset, -1)
		}
		var got []string
		for _, u := range pt.updates {
			if u.Person == exposed {
				line := fmt.Sprintf("v%d level %d at %v review %v:", u.Version, u.Level, u.Effective, u.Review)
				for _, r := range u.Reasons {
					line += fmt.Sprintf(" %s%v", r.Rule.ID, r.Evidence)
				}
				got = append(got, line)
			}
		}
		return got
	}
	// The clock is 10:00, the watermark 09:00: the exposures' key, 10:00 (the
	// case reported at 09:00, plus an hour), is ahead of it.
	clock := []scoring.Event{upstream(t0 + 10*3600)}
	passed := []scoring.Event{upstream(t0 + 11*3600)} // the watermark reaches 10:00
	want := run(clock, []scoring.Event{companion, closeEv}, passed)
	if len(want) != 2 {
		t.Fatalf("updates %q: want the companion's version, then the close contact's", want)
	}
	for name, order := range map[string][][]scoring.Event{
		"close first":           {clock, {closeEv, companion}, passed},
		"in two batches":        {clock, {closeEv}, {companion}, passed},
		"reversed, two batches": {clock, {companion}, {closeEv}, passed},
	} {
		if got := run(order...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if got := run(clock, []scoring.Event{closeEv}); len(got) != 0 {
		t.Errorf("before the watermark passed its key: %q, want the exposure held", got)
	}

	// Past the clock, idle: held for settleFetches fetches without input.
	pt := holdingPart(t)
	pt.hold(&kafka.Message{Offset: 0}, &clock[0])
	late := exposure(scoring.ExposureClose, "exp-close", t0+5*3600, 1<<16)
	later := exposure(scoring.ExposureClose, "exp-close", t0+6*3600, 3<<16) // a later version of it
	late.End, later.End = t0+10*3600, t0+10*3600                            // reported at the clock: the key is 11:00
	pt.hold(&kafka.Message{Offset: 1}, &later)
	pt.hold(&kafka.Message{Offset: 2}, &late)
	fetchedRelease(pt, 3, -1) // the fetch that brought them
	for idle := 1; idle < settleFetches; idle++ {
		if next := fetchedRelease(pt, 3, -1); next != 1 || len(pt.held) != 2 {
			t.Fatalf("idle %d: commit %d, %d held: want both versions held and commit 1", idle, next, len(pt.held))
		}
	}
	pt.updates = pt.updates[:0]
	if next := fetchedRelease(pt, 3, -1); next != 3 || len(pt.held) != 0 {
		t.Fatalf("settled: commit %d, %d held: want everything applied", next, len(pt.held))
	}
	if len(pt.updates) != 1 || pt.updates[0].Effective != t0+6*3600 {
		t.Errorf("updates %+v: want one version, the close contact at 14:00, the later version's", pt.updates)
	}

	// A secondary contact is two hops from the case: its key is 11:00.
	secondary := exposure(scoring.ExposureSecondary, "exp-secondary", t0+5*3600, 4<<16)
	if k := pt.heldKey(&secondary); k != reported+2*3600 {
		t.Errorf("secondary contact's key %v, want the case's report plus two hours", k)
	}
}

// A secondary contact waits until no contact of hop 1 is held and its own hop
// is quiet; one arriving does not put off the hop-1 exposures held.
func TestRelease_SecondaryContactsWaitForTheirHop(t *testing.T) {
	t0 := scoring.MustTime("2020-03-01T08:00:00Z")
	exposed := scoring.PersonKey{7, 1, 2, 3}
	exposure := func(kind scoring.ExposureKind, id string) *scoring.Event {
		return &scoring.Event{Kind: scoring.KindExposure, Sub: uint8(kind), Person: exposed, At: t0 + 5*3600, First: t0 + 5*3600,
			End: t0 + 10*3600, Place: "v:V1", ID: id, Source: "tracing", Version: 1 << 16, Text: scoring.PersonKey{9, 1, 2, 3}.String()}
	}
	pt := holdingPart(t)
	pt.hold(&kafka.Message{Offset: 0}, &scoring.Event{Kind: scoring.KindTick, At: t0 + 10*3600})
	pt.hold(&kafka.Message{Offset: 1}, exposure(scoring.ExposureClose, "exp-close"))
	fetchedRelease(pt, 2, -1)
	for i := 1; i < settleFetches; i++ {
		fetchedRelease(pt, 2, -1)
	}
	// An answer of hop 2 arrives (another partition's close contact's
	// contact) in the fetch that completes hop 1's quiet.
	pt.hold(&kafka.Message{Offset: 2}, exposure(scoring.ExposureSecondary, "exp-secondary"))
	if fetchedRelease(pt, 3, -1); len(pt.held) != 1 || pt.held[0].ev.ID != "exp-secondary" {
		t.Fatalf("held %+v: want the close contact applied, the secondary contact held", pt.held)
	}
	for i := 1; i < settleFetches; i++ {
		if fetchedRelease(pt, 3, -1); len(pt.held) != 1 {
			t.Fatalf("after %d quiet fetches the secondary contact is applied, want %d", i, settleFetches)
		}
	}
	if next := fetchedRelease(pt, 3, -1); next != 3 || len(pt.held) != 0 {
		t.Errorf("commit %d, %d held: want the secondary contact applied once its hop is quiet", next, len(pt.held))
	}
}

// A secondary contact keyed before a contact of hop 1 (of a case reported
// later) does not keep it, nor itself, held for good: once quiet, both are
// applied in key order.
func TestRelease_ASecondaryKeyedFirstDoesNotBlockHopOne(t *testing.T) {
	t0 := scoring.MustTime("2020-03-01T08:00:00Z")
	exposed := scoring.PersonKey{7, 1, 2, 3}
	pt := holdingPart(t)
	pt.hold(&kafka.Message{Offset: 0}, &scoring.Event{Kind: scoring.KindTick, At: t0 + 4*3600})
	secondary := scoring.Event{Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureSecondary), Person: exposed, At: t0 + 3600,
		End: t0 + 2*3600, Place: "v:V1", ID: "exp-secondary", Source: "tracing", Version: 1 << 16, Text: scoring.PersonKey{9}.String()}
	closeEv := scoring.Event{Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), Person: exposed, At: t0 + 9*3600,
		End: t0 + 10*3600, Place: "v:V2", ID: "exp-close", Source: "tracing", Version: 2 << 16, Text: scoring.PersonKey{8}.String()}
	pt.hold(&kafka.Message{Offset: 1}, &secondary) // key 12:00, past the watermark (11:00)
	pt.hold(&kafka.Message{Offset: 2}, &closeEv)   // key 19:00
	for i := 0; i < 4*settleFetches && len(pt.held) > 0; i++ {
		fetchedRelease(pt, 3, -1)
	}
	if len(pt.held) != 0 {
		t.Fatalf("%d exposures still held after %d quiet fetches", len(pt.held), 4*settleFetches)
	}
	if len(pt.updates) == 0 || pt.updates[len(pt.updates)-1].Level != 2 {
		t.Errorf("updates %+v: want the close contact last", pt.updates)
	}
}
