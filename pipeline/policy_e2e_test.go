package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/sinks"
)

// TestEndToEnd_PolicyFollowedEverywhere publishes a policy that changes the
// contact parameters (close_overlap 15m -> 5m, companion_h3_res 8 -> 7) and
// adds a colour, and checks every stage follows it:
//   - trace re-derives: a pair that overlapped 10 minutes before the change,
//     a companion under the old rule, is a close contact under the new one;
//   - a pair that overlaps 7 minutes after the change is a close contact;
//   - a stay in another resolution-8 cell of the case's resolution-7 cell,
//     held before the change, is a companion (cell presences moved to the
//     partition of their new cell);
//   - ingest accepts an override naming the new colour.
func TestEndToEnd_PolicyFollowedEverywhere(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	r := rand.New(rand.NewPCG(10, 2))
	caseP, tenMin, sevenMin, neighbour, overridden := newPerson(r, "330102"), newPerson(r, "330102"), newPerson(r, "330106"),
		newPerson(r, "330108"), newPerson(r, "330203")
	env := func(id, at string, p person, body string) string {
		return fmt.Sprintf(`{"event_id":%q,"source":"e2e","occurred_at":%q,"person":%s%s}`, id, at, p.json(), body)
	}
	checkin := func(id string, p person, venue string, ll h3.LatLng, from, to string) upstream {
		return upstream{"src.checkins", "", env(id, from, p, fmt.Sprintf(`,"venue":{"id":%q,"name":"v","lat":%.6f,"lng":%.6f},"left_at":%q`, venue, ll.Lat, ll.Lng, to))}
	}
	at := h3.NewLatLng(30.27410, 120.15510)
	near := neighbourCell(t, at)
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
	produce(t, brokers, []upstream{
		checkin("c-case", caseP, "V330102000001", at, "2020-03-05T12:00:00+08:00", "2020-03-05T13:00:00+08:00"),
		checkin("c-ten", tenMin, "V330102000001", at, "2020-03-05T12:50:00+08:00", "2020-03-05T14:00:00+08:00"),
		checkin("c-near", neighbour, "V330102000077", near, "2020-03-05T12:10:00+08:00", "2020-03-05T12:40:00+08:00"),
		{"src.tests", "", env("pcr-case", "2020-03-06T10:00:00+08:00", caseP, `,"test":{"kind":"pcr","result":"positive","reported_at":"2020-03-07T08:00:00+08:00","lab":"lab-1"}`)},
	})
	h.drain(ctx)
	if got := lastRules(t, brokers)[tenMin.key]; got != "companion under domestic@1" {
		t.Fatalf("before the change the 10-minute pair is %q, want a companion under domestic@1", got)
	}
	if got := lastRules(t, brokers)[neighbour.key]; got != "" {
		t.Fatalf("before the change the neighbouring cell's stay is %q, want nothing", got)
	}

	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	v2 := string(raw)
	for _, rep := range [][2]string{{`"version": 1`, `"version": 2`}, {`"close_overlap": "15m"`, `"close_overlap": "5m"`},
		{`"companion_h3_res": 8`, `"companion_h3_res": 7`}, {"\"yellow\",\n    \"red\"", "\"yellow\",\n    \"orange\",\n    \"red\""},
		// A policy's override rules list every colour or none.
		{`"yellow": "reason_code",`, `"yellow": "reason_code",` + "\n      " + `"orange": "reason_code",`}} {
		if !strings.Contains(v2, rep[0]) {
			t.Fatalf("shipped policy lacks %q", rep[0])
		}
		v2 = strings.Replace(v2, rep[0], rep[1], 1)
	}
	w := kafkaClient(t, brokers).NewWriter("hc.policy", nil)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(wire.PolicyKey), Value: []byte(v2)}); err != nil {
		t.Fatal(err)
	}
	// The trace stage re-derives under domestic@2: the 10-minute pair is now
	// a close contact, without any new input.
	deadline := time.Now().Add(60 * time.Second)
	for lastRules(t, brokers)[tenMin.key] != "close-contact under domestic@2" {
		if time.Now().After(deadline) {
			t.Fatalf("the 10-minute pair is %q 60s after the change, want a close contact under domestic@2", lastRules(t, brokers)[tenMin.key])
		}
		time.Sleep(300 * time.Millisecond)
	}
	h.drain(ctx)
	produce(t, brokers, []upstream{
		checkin("c-seven", sevenMin, "V330102000001", at, "2020-03-05T12:53:00+08:00", "2020-03-05T13:30:00+08:00"),
		{"src.overrides", "", env("ov-orange", "2020-03-07T09:00:00+08:00", overridden,
			`,"colour":"orange","until":"2020-03-20T09:00:00+08:00","reason":"Observation ordered by the district.","reason_code":"medical-observation","officer":"officer-1","approver":"approver-2"`)},
	})
	h.drain(ctx)
	got := lastRules(t, brokers)
	for _, c := range []struct {
		name string
		p    person
		want string
	}{
		{"7-minute pair after the change", sevenMin, "close-contact under domestic@2"},
		{"neighbouring resolution-8 cell", neighbour, "companion under domestic@2"},
		{"override naming the new colour", overridden, "override under domestic@2"},
	} {
		if got[c.p.key] != c.want {
			t.Errorf("%s: %q, want %q", c.name, got[c.p.key], c.want)
		}
	}
	if col := lastColour(t, brokers)[overridden.key]; col != "orange" {
		t.Errorf("the override's colour is %q, want orange", col)
	}
	for _, m := range readAll(t, brokers, "hc.dead-letter") {
		t.Errorf("dead letter from %s: %s", header(m, "topic"), header(m, "error"))
	}
}

// neighbourCell returns a point in another resolution-8 cell of the
// resolution-7 cell of ll.
func neighbourCell(t *testing.T, ll h3.LatLng) h3.LatLng {
	t.Helper()
	c8 := h3.LatLngToCell(ll, 8)
	p7 := c8.Parent(7)
	for _, c := range p7.Children(8) {
		if c != c8 {
			return c.LatLng()
		}
	}
	t.Fatal("no neighbouring cell")
	return h3.LatLng{}
}

// lastRules returns each person's latest update as "rules under policy".
func lastRules(t *testing.T, brokers []string) map[string]string {
	out := map[string]string{}
	for k, u := range lastUpdates(t, brokers) {
		var rules []string
		for _, r := range u.Reasons {
			rules = append(rules, r.Rule)
		}
		out[k] = strings.Join(rules, ",") + " under " + u.Policy
		if len(rules) == 0 {
			out[k] = ""
		}
	}
	return out
}

func lastColour(t *testing.T, brokers []string) map[string]string {
	out := map[string]string{}
	for k, u := range lastUpdates(t, brokers) {
		out[k] = u.Colour
	}
	return out
}

func lastUpdates(t *testing.T, brokers []string) map[string]sinks.ColourUpdate {
	t.Helper()
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
	return last
}
