package clickhouse_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

// updates returns a person's updates 1..n as the scorer would send them,
// with times in +08:00 as on hc.colour-updates.
func updates(key scoring.PersonKey, n int, from time.Time) []sinks.ColourUpdate {
	cst := time.FixedZone("CST", 8*3600)
	colours := []string{"green", "yellow", "red"}
	var ups []sinks.ColourUpdate
	prev := ""
	for v := 1; v <= n; v++ {
		eff := from.Add(time.Duration(v) * 36 * time.Hour).In(cst)
		u := sinks.ColourUpdate{
			PersonKey:   key.String(),
			Colour:      colours[v%3],
			Previous:    prev,
			Level:       v % 3,
			Version:     uint64(v),
			Policy:      "domestic@1",
			EffectiveAt: eff.Format(time.RFC3339),
			Reasons:     []sinks.Reason{},
		}
		if v%3 != 0 {
			u.ReviewAt = eff.Add(14 * 24 * time.Hour).Format(time.RFC3339)
			u.Reasons = []sinks.Reason{{
				Rule:         "close-contact",
				TextEN:       "You were a close contact of a confirmed case.",
				TextZH:       "您是确诊病例的密切接触者。",
				Evidence:     []string{"ev-1", "tr-9"},
				Until:        u.ReviewAt,
				ClearsWhen:   "14 days pass with two negative PCR tests",
				ClearsWhenZH: "满14天且两次核酸阴性",
			}, {
				Rule:     "area-high",
				TextEN:   "You stayed in a high-risk area.",
				TextZH:   "您曾在高风险地区停留。",
				Evidence: []string{"ev-2"},
			}}
		}
		prev = u.Colour
		ups = append(ups, u)
	}
	return ups
}

func TestWriteColourUpdates_CurrentAndHistory(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(7, 8))
	who := people(r, 3)
	from := time.Date(2020, 3, 16, 2, 0, 0, 0, time.UTC)
	a, b := updates(who[0], 3, from), updates(who[1], 1, from)
	// Out of order and redelivered: version 3 arrives before 1 and 2.
	for _, batch := range [][]sinks.ColourUpdate{{a[2], b[0]}, {a[0], a[1]}, {a[1]}} {
		if err := c.WriteColourUpdates(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() FROM colour_changes FINAL"); n != 4 {
		t.Errorf("colour_changes has %d distinct versions, want 4", n)
	}
	if n := count(t, c, "SELECT uniqExact(version) FROM colour_changes WHERE person_key = ?", who[0].String()); n != 3 {
		t.Errorf("colour_changes has %d versions of a, want 3", n)
	}
	// rules repeats the reasons' rule ids.
	if n := count(t, c, "SELECT count() FROM colour_changes FINAL WHERE has(rules, 'area-high')"); n != 3 {
		t.Errorf("%d changes with rule area-high, want 3 (a v1, a v2, b v1)", n)
	}
	var colour string
	var version uint64
	if err := c.Conn().QueryRow(ctx, "SELECT argMax(colour, version), max(version) FROM colours_current WHERE person_key = ?",
		who[0].String()).Scan(&colour, &version); err != nil {
		t.Fatal(err)
	}
	if colour != a[2].Colour || version != 3 {
		t.Errorf("colours_current argMax = %s v%d, want %s v3", colour, version, a[2].Colour)
	}

	for _, tc := range []struct {
		key  scoring.PersonKey
		want []sinks.ColourUpdate
	}{{who[0], a}, {who[1], b}} {
		cur, err := c.Current(ctx, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if cur == nil || !reflect.DeepEqual(*cur, tc.want[len(tc.want)-1]) {
			t.Errorf("Current(%s):\n got %+v\nwant %+v", tc.key, cur, tc.want[len(tc.want)-1])
		}
		hist, err := c.History(ctx, tc.key, 0)
		if err != nil {
			t.Fatal(err)
		}
		newestFirst := slices.Clone(tc.want)
		slices.Reverse(newestFirst)
		if !reflect.DeepEqual(hist, newestFirst) {
			t.Errorf("History(%s):\n got %+v\nwant %+v", tc.key, hist, newestFirst)
		}
	}
	hist, err := c.History(ctx, who[0], 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Version != 3 || hist[1].Version != 2 {
		t.Errorf("History(limit 2) = %+v, want versions 3, 2", hist)
	}
	if cur, err := c.Current(ctx, who[2]); cur != nil || err != nil {
		t.Errorf("Current(unknown person) = %+v, %v; want nil, nil", cur, err)
	}
	if hist, err := c.History(ctx, who[2], 10); len(hist) != 0 || err != nil {
		t.Errorf("History(unknown person) = %+v, %v; want nothing", hist, err)
	}
}

func TestWriteColourUpdates_TimesAreInstants(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	key := people(rand.New(rand.NewPCG(9, 10)), 1)[0]
	u := updates(key, 1, time.Date(2020, 3, 16, 2, 0, 0, 0, time.UTC))[0]
	u.EffectiveAt = "2020-03-17T18:30:00Z" // UTC in, +08:00 out, same instant
	if err := c.WriteColourUpdates(ctx, []sinks.ColourUpdate{u}); err != nil {
		t.Fatal(err)
	}
	var eff time.Time
	if err := c.Conn().QueryRow(ctx, "SELECT effective_at FROM colour_changes").Scan(&eff); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2020, 3, 17, 18, 30, 0, 0, time.UTC); !eff.Equal(want) {
		t.Errorf("effective_at stored as %v, want %v", eff, want)
	}
	cur, err := c.Current(ctx, key)
	if err != nil || cur == nil {
		t.Fatalf("Current = %v, %v", cur, err)
	}
	if cur.EffectiveAt != "2020-03-18T02:30:00+08:00" {
		t.Errorf("Current effective_at %q, want 2020-03-18T02:30:00+08:00", cur.EffectiveAt)
	}
}

func TestWriteColourUpdates_Refused(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	key := people(rand.New(rand.NewPCG(11, 12)), 1)[0]
	good := updates(key, 1, time.Date(2020, 3, 16, 2, 0, 0, 0, time.UTC))[0]
	for _, tc := range []struct {
		name    string
		mod     func(*sinks.ColourUpdate)
		wantErr string
	}{
		{"short key", func(u *sinks.ColourUpdate) { u.PersonKey = "abc" }, "want 32 hex"},
		{"not hex", func(u *sinks.ColourUpdate) { u.PersonKey = strings.Repeat("zz", 16) }, "person key"},
		{"no effective_at", func(u *sinks.ColourUpdate) { u.EffectiveAt = "" }, "effective_at: missing"},
		{"bad review_at", func(u *sinks.ColourUpdate) { u.ReviewAt = "tomorrow" }, "review_at"},
		{"level too high", func(u *sinks.ColourUpdate) { u.Level = 300 }, "level 300"},
	} {
		u := good
		tc.mod(&u)
		// The good update goes first and is written; the bad one is refused.
		err := c.WriteColourUpdates(ctx, []sinks.ColourUpdate{good, u})
		var re *clickhouse.RefusedError
		if !errors.As(err, &re) || len(re.Rows) != 1 || re.Rows[0].Index != 1 || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want row 1 refused with one containing %q", tc.name, err, tc.wantErr)
		}
	}
	if n := count(t, c, "SELECT count() FROM colour_changes FINAL"); n != 1 {
		t.Errorf("colour_changes holds %d rows, want the good one", n)
	}
	if n := count(t, c, "SELECT count() FROM colours_current FINAL"); n != 1 {
		t.Errorf("colours_current holds %d rows, want the good one", n)
	}
}
