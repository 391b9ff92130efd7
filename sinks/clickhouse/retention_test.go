package clickhouse_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

func TestDropExpired(t *testing.T) {
	c := open(t, func(o *clickhouse.Options) { o.RetentionDays = 30 })
	ctx := ctxT(t)
	now := time.Date(2021, 6, 15, 12, 0, 0, 0, time.UTC) // cutoff 2021-05-16T12:00Z
	r := rand.New(rand.NewPCG(13, 14))
	key := people(r, 1)[0]
	months := []struct {
		at   string
		keep bool
	}{
		{"2020-01-10T00:00:00Z", false},
		{"2021-04-30T23:59:59Z", false}, // April ended before the cutoff
		{"2021-05-01T00:00:00Z", true},  // May straddles the cutoff: kept whole
		{"2021-06-14T00:00:00Z", true},
	}
	var evs []scoring.Event
	var ups []sinks.ColourUpdate
	for i, m := range months {
		e := genEvents(r, []scoring.PersonKey{key}, 1, 1)[0]
		e.At = scoring.MustTime(m.at)
		evs = append(evs, e)
		u := updates(key, i+1, now)[i]
		u.EffectiveAt, u.ReviewAt = m.at, ""
		ups = append(ups, u)
	}
	if err := c.WriteEvents(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteColourUpdates(ctx, ups); err != nil {
		t.Fatal(err)
	}
	// Exposures are not partitioned: those before the first month kept are
	// deleted by a mutation.
	var xs []wire.Exposure
	for i, m := range months {
		at := scoring.MustTime(m.at).Std().Unix()
		xs = append(xs, wire.Exposure{ID: fmt.Sprint("exp-", i), Exposed: key.String(), Kind: "companion", Place: "c:1",
			OverlapStart: at - 600, OverlapEnd: at, ExposedAt: at, Version: uint64(i + 1)})
	}
	if err := c.WriteExposures(ctx, xs); err != nil {
		t.Fatal(err)
	}
	dropped, err := c.DropExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// Two months of events, of colour_changes and of the rollups
	// colour_transitions_daily, exposures_daily and place_exposures.
	if dropped != 10 {
		t.Errorf("dropped %d partitions, want 10 (two months of five tables)", dropped)
	}
	for _, table := range []string{"colour_transitions_daily", "exposures_daily", "place_exposures"} {
		if n := count(t, c, "SELECT count() FROM "+table+" WHERE day < '2021-05-01'"); n != 0 {
			t.Errorf("%s keeps %d rows of dropped months", table, n)
		}
	}
	for i, m := range months {
		want := uint64(0)
		if m.keep {
			want = 1
		}
		if n := count(t, c, "SELECT count() FROM events WHERE event_id = ?", evs[i].ID); n != want {
			t.Errorf("event of %s: %d rows, want %d", m.at, n, want)
		}
		if n := count(t, c, "SELECT count() FROM colour_changes WHERE version = ?", ups[i].Version); n != want {
			t.Errorf("colour change of %s: %d rows, want %d", m.at, n, want)
		}
	}
	// The mutation runs in the background, on a cluster on every shard's
	// exposures_local (this server's system.mutations shows only its own):
	// wait until what is read through exposures is what must remain.
	var wrong []string
	for n := 0; ; n++ {
		wrong = wrong[:0]
		for i, m := range months {
			want := uint64(0)
			if m.keep {
				want = 1
			}
			if got := count(t, c, "SELECT count() FROM exposures WHERE exposure_id = ?", xs[i].ID); got != want {
				wrong = append(wrong, fmt.Sprintf("exposure of %s: %d rows, want %d", m.at, got, want))
			}
		}
		if len(wrong) == 0 || n == 600 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range wrong {
		t.Errorf("after 30 s: %s", w)
	}
	// colours_current is never pruned.
	if n := count(t, c, "SELECT count() FROM colours_current"); n != uint64(len(ups)) {
		t.Errorf("colours_current has %d rows, want %d", n, len(ups))
	}
	if dropped, err := c.DropExpired(ctx, now); dropped != 0 || err != nil {
		t.Errorf("second DropExpired = %d, %v; want 0, nil", dropped, err)
	}
}
