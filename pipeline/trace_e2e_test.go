package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

// TestEndToEnd_Tracing drives a small outbreak by hand through every stage:
// a case, a close contact at the same venue, a companion in the same H3 cell,
// a secondary contact of the close contact, and a check-in that arrives after
// the case was reported (a late presence). It checks colours, the exposures
// table and the chain it holds.
func TestEndToEnd_Tracing(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)

	r := rand.New(rand.NewPCG(3, 5))
	caseP, closeP, companion, secondary, late, stranger := newPerson(r, "330102"), newPerson(r, "330102"),
		newPerson(r, "330106"), newPerson(r, "330108"), newPerson(r, "330203"), newPerson(r, "330205")
	env := func(id, at string, p person, body string) string {
		return fmt.Sprintf(`{"event_id":%q,"source":"e2e","occurred_at":%q,"person":%s%s}`, id, at, p.json(), body)
	}
	// Two venues 30 m apart share one resolution-8 H3 cell (about 0.7 km²).
	checkin := func(id string, p person, venue string, lat float64, from, to string) upstream {
		return upstream{"src.checkins", "", env(id, from, p, fmt.Sprintf(`,"venue":{"id":%q,"name":"v","lat":%.5f,"lng":120.15510},"left_at":%q`, venue, lat, to))}
	}
	phase1 := []upstream{
		checkin("c-case", caseP, "V330102000001", 30.27410, "2020-03-05T12:00:00+08:00", "2020-03-05T13:00:00+08:00"),
		checkin("c-close", closeP, "V330102000001", 30.27410, "2020-03-05T12:40:00+08:00", "2020-03-05T14:00:00+08:00"),
		checkin("c-comp", companion, "V330102000002", 30.27440, "2020-03-05T12:30:00+08:00", "2020-03-05T12:45:00+08:00"),
		// The close contact meets the secondary contact after the exposure.
		checkin("c-sec", secondary, "V330102000003", 30.20000, "2020-03-06T09:00:00+08:00", "2020-03-06T10:00:00+08:00"),
		checkin("c-close2", closeP, "V330102000003", 30.20000, "2020-03-06T09:30:00+08:00", "2020-03-06T10:30:00+08:00"),
		// A stranger far away.
		checkin("c-far", stranger, "V330205000009", 29.87000, "2020-03-05T12:00:00+08:00", "2020-03-05T13:00:00+08:00"),
		// The case tests positive on 03-06, reported 03-07 08:00.
		{"src.tests", "", env("pcr-case", "2020-03-06T10:00:00+08:00", caseP, `,"test":{"kind":"pcr","result":"positive","reported_at":"2020-03-07T08:00:00+08:00","lab":"lab-1"}`)},
	}
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
	produce(t, brokers, phase1)
	h.drain(ctx)
	// A check-in reported late: within the case's window, at the case's venue.
	produce(t, brokers, []upstream{checkin("c-late", late, "V330102000001", 30.27410, "2020-03-05T12:15:00+08:00", "2020-03-05T12:45:00+08:00")})
	h.drain(ctx)

	last := map[string]sinks.ColourUpdate{}
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatal(err)
		}
		if u.Version > last[u.PersonKey].Version {
			last[u.PersonKey] = u
		}
	}
	want := []struct {
		name string
		p    person
		rule string
	}{
		{"case", caseP, "confirmed"},
		{"close contact", closeP, "close-contact"},
		{"late close contact", late, "close-contact"},
		{"companion", companion, "companion"},
		{"secondary contact", secondary, "secondary-contact"},
		{"stranger", stranger, ""},
	}
	for _, w := range want {
		u := last[w.p.key]
		var rules []string
		for _, r := range u.Reasons {
			rules = append(rules, r.Rule)
		}
		if strings.Join(rules, ",") != w.rule {
			t.Errorf("%s: %s with reasons %v, want [%s]", w.name, u.Colour, rules, w.rule)
		}
	}

	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.Conn().Query(ctx, "SELECT exposed_key, source_key, toString(kind), place, evidence FROM exposures FINAL WHERE retracted = 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := map[string]string{}
	for _, w := range want {
		names[w.p.key] = w.name
	}
	var got []string
	for rows.Next() {
		var exposed, source, kind, place string
		var evidence []string
		if err := rows.Scan(&exposed, &source, &kind, &place, &evidence); err != nil {
			t.Fatal(err)
		}
		if len(evidence) == 0 {
			t.Errorf("exposure %s of %s has no evidence", kind, names[exposed])
		}
		got = append(got, fmt.Sprintf("%s <-%s- %s @%s", names[exposed], kind, names[source], place[:2]))
	}
	sort.Strings(got)
	wantRows := []string{
		"close contact <-close_contact- case @v:",
		"companion <-companion- case @c:",
		"late close contact <-close_contact- case @v:",
		"secondary contact <-secondary_contact- close contact @v:",
	}
	// Close contacts are also in the case's cell: the companion rows for them
	// exist too (the engine keeps the higher level).
	var filtered []string
	for _, g := range got {
		if strings.HasPrefix(g, "close contact <-companion-") || strings.HasPrefix(g, "late close contact <-companion-") {
			continue
		}
		filtered = append(filtered, g)
	}
	if strings.Join(filtered, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("exposures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
	assertNoRawIDs(t, brokers, c, []person{caseP, closeP, companion, secondary, late, stranger})
}
