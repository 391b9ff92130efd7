package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
	"healthcode/sources"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var testKey = []byte("e2e-test-pseudonym-key")

// person is a generated test person (no real data).
type person struct {
	idType, id string
	key        string
}

func newPerson(r *rand.Rand, region string) person {
	birth := time.Date(1950+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	id := sources.GenerateResidentID(r, region, birth)
	return person{idType: "resident_id", id: id, key: sources.PersonKey(testKey, "resident_id", id).String()}
}

func (p person) json() string {
	return fmt.Sprintf(`{"id_type":%q,"id_number":%q,"nationality":"CHN"}`, p.idType, p.id)
}

type upstream struct {
	topic string
	key   string
	value string
}

// harness is one pipeline process over a shared embedded broker and ClickHouse.
type harness struct {
	t       *testing.T
	brokers []string
	ch      clickhouse.Options
	cancel  context.CancelFunc
	done    chan error
	p       *pipeline.Pipeline
}

// startParts starts the real parts a pipeline test needs: an embedded
// Kafka-protocol broker (stopped when the test ends) and a fresh ClickHouse
// database.
func startParts(t *testing.T) (brokers []string, ch clickhouse.Options) {
	t.Helper()
	emb, err := broker.Start(broker.Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	return emb.Addrs(), chtest.Start(t)
}

func startPipeline(t *testing.T, brokers []string, ch clickhouse.Options) *harness {
	t.Helper()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	o := pipeline.Options{
		Kafka:      kafka.Config{Brokers: brokers},
		Partitions: 4,
		Policy:     pol,
		ClickHouse: ch,
		Clock:      pipeline.ClockEvent,
		SinkLinger: 50 * time.Millisecond,
	}
	o.Decoder.Key = testKey
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, brokers: brokers, ch: ch, cancel: cancel, done: make(chan error, 1), p: p}
	go func() { h.done <- p.Run(ctx) }()
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("pipeline: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Fatal("pipeline did not stop within 30s")
	}
}

func (h *harness) drain(ctx context.Context) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := h.p.WaitDrained(ctx, 200*time.Millisecond, nil); err != nil {
		h.t.Fatalf("pipeline did not drain: %v", err)
	}
}

// kafkaClient returns a toolkit client of brokers.
func kafkaClient(t *testing.T, brokers []string) *kafka.Client {
	t.Helper()
	kc, err := kafka.New(kafka.Config{Brokers: brokers, FetchMaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func produce(t *testing.T, brokers []string, msgs []upstream) {
	t.Helper()
	w := kafkaClient(t, brokers).NewWriter("", &kafka.Hash{})
	defer w.Close()
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafka.Message{Topic: m.topic, Key: []byte(m.key), Value: []byte(m.value)}
	}
	if err := w.WriteMessages(context.Background(), out...); err != nil {
		t.Fatal(err)
	}
}

// readAll returns every message of every partition of topic.
func readAll(t *testing.T, brokers []string, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kc := kafkaClient(t, brokers)
	n, err := kc.PartitionCount(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for p := 0; p < n; p++ {
		ends, err := kc.EndOffsets(ctx, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		err = kc.Replay(ctx, topic, p, ends[p], func(m *kafka.Message) error {
			out = append(out, *m)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func header(m kafka.Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// TestEndToEnd drives upstream JSON through kfake, every stage and a real
// ClickHouse, and checks the colour updates, the dead letters, the ClickHouse
// rows, the restore path across a restart, and that no raw ID number leaks.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)

	r := rand.New(rand.NewPCG(7, 11))
	confirmed := newPerson(r, "330102")
	fever := newPerson(r, "330106")
	traveller := newPerson(r, "330203")
	corrected := newPerson(r, "330108")
	bystander := newPerson(r, "330205")
	all := []person{confirmed, fever, traveller, corrected, bystander}

	env := func(id, at string, p person, body string) string {
		return fmt.Sprintf(`{"event_id":%q,"source":"e2e","occurred_at":%q,"person":%s%s}`, id, at, p.json(), body)
	}
	// The designation is produced first: ingest broadcasts it to every
	// partition of hc.person-events, so each sees it before later events.
	phase0 := []upstream{
		{"src.area-risk", "country:DEU", `{"event_id":"area-1","source":"e2e","occurred_at":"2020-03-01T00:00:00+08:00","area":{"kind":"country","code":"DEU"},"level":"high"}`},
	}
	phase1 := []upstream{
		{"src.tests", "", env("pcr-1", "2020-03-02T09:00:00+08:00", confirmed, `,"test":{"kind":"pcr","result":"positive","reported_at":"2020-03-02T20:00:00+08:00","lab":"lab-1"}`)},
		{"src.declarations", "", env("decl-1", "2020-03-02T08:00:00+08:00", fever, `,"symptoms":["cough"],"temperature_c":37.3`)},
		{"src.flights", "CA936/2020-03-03", fmt.Sprintf(`{"event_id":"fl-1","source":"e2e","occurred_at":"2020-03-03T10:00:00+08:00","flight":{"number":"CA936","date":"2020-03-03","origin_airport":"FRA","origin_country":"DEU","destination_airport":"HGH","departed_at":"2020-03-02T22:00:00+08:00","arrived_at":"2020-03-03T10:00:00+08:00"},"passengers":[{"person":%s,"seat":"23C"}]}`, traveller.json())},
		{"src.declarations", "", env("decl-2", "2020-03-02T08:30:00+08:00", corrected, `,"symptoms":["fever"]`)},
		{"src.checkins", "", env("chk-1", "2020-03-03T12:00:00+08:00", bystander, `,"venue":{"id":"V330205000001","name":"Market 1","lat":29.87,"lng":121.55},"left_at":"2020-03-03T12:30:00+08:00"`)},
		// Rejections: a bad check digit, and malformed JSON.
		{"src.tests", "", strings.Replace(env("bad-1", "2020-03-02T09:00:00+08:00", confirmed, `,"test":{"kind":"pcr","result":"negative","reported_at":"2020-03-02T20:00:00+08:00","lab":"lab-1"}`), confirmed.id, badCheckDigit(confirmed.id), 1)},
		{"src.checkins", "", `{"event_id": "broken"`},
	}
	h := startPipeline(t, brokers, chOpts)
	produce(t, brokers, phase0)
	h.drain(ctx)
	produce(t, brokers, phase1)
	h.drain(ctx)
	// A restart: the next process restores scoring state from the changelog.
	h.stop()
	h = startPipeline(t, brokers, chOpts)
	defer h.stop()

	phase2 := []upstream{
		// The fever case is cleared by a negative PCR (sent twice: one test).
		{"src.tests", "", env("pcr-2", "2020-03-03T09:00:00+08:00", fever, `,"test":{"kind":"pcr","result":"negative","reported_at":"2020-03-03T18:00:00+08:00","lab":"lab-1"}`)},
		{"src.tests", "", env("pcr-2", "2020-03-03T09:00:00+08:00", fever, `,"test":{"kind":"pcr","result":"negative","reported_at":"2020-03-03T18:00:00+08:00","lab":"lab-1"}`)},
		{"src.overrides", "", env("ovr-1", "2020-03-04T09:00:00+08:00", corrected, `,"colour":"green","until":"2020-03-20T09:00:00+08:00","reason":"thermometer fault confirmed on appeal","officer":"officer-001","approver":"officer-002"`)},
		// The override guard decides an override once the event clock is a
		// minute past it (Options.OverrideSettle): a later event moves it.
		{"src.declarations", "", env("decl-4", "2020-03-04T09:05:00+08:00", bystander, ``)},
	}
	produce(t, brokers, phase2)
	h.drain(ctx)
	// Much later: the event clock moves to 2020-03-25, so the traveller's
	// quarantine (to 03-17) and post-quarantine (to 03-24) end on timers, and
	// the override (to 03-20) expires. A phase of its own: upstream topics are
	// consumed concurrently, and a clock already at 03-25 when the override
	// is applied would make it expired on arrival, which skips its green
	// update (the final colours are the same either way; the updates between
	// are what this test checks).
	phase3 := []upstream{
		{"src.declarations", "", env("decl-3", "2020-03-25T08:00:00+08:00", bystander, ``)},
	}
	produce(t, brokers, phase3)
	h.drain(ctx)

	// Colour updates, per person, in version order.
	byPerson := map[string][]sinks.ColourUpdate{}
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatalf("colour update is not JSON: %v", err)
		}
		if string(m.Key) != u.PersonKey {
			t.Errorf("update key %q != person_key %q", m.Key, u.PersonKey)
		}
		byPerson[u.PersonKey] = append(byPerson[u.PersonKey], u)
	}
	check := func(name string, p person, wantColours []string, lastRules []string) []sinks.ColourUpdate {
		t.Helper()
		ups := byPerson[p.key]
		var got []string
		for i, u := range ups {
			got = append(got, u.Colour)
			if u.Version != uint64(i+1) {
				t.Errorf("%s: update %d has version %d, want %d", name, i, u.Version, i+1)
			}
			if u.Policy != "domestic@1" {
				t.Errorf("%s: policy %q", name, u.Policy)
			}
			if i > 0 && u.Previous != ups[i-1].Colour {
				t.Errorf("%s: v%d previous %q, want %q", name, u.Version, u.Previous, ups[i-1].Colour)
			}
		}
		if strings.Join(got, ",") != strings.Join(wantColours, ",") {
			t.Errorf("%s: colours %v, want %v", name, got, wantColours)
		}
		if len(ups) > 0 {
			var rules []string
			for _, r := range ups[len(ups)-1].Reasons {
				rules = append(rules, r.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(lastRules, ",") {
				t.Errorf("%s: last reasons %v, want %v", name, rules, lastRules)
			}
		}
		return ups
	}
	cu := check("confirmed", confirmed, []string{"red"}, []string{"confirmed"})
	if len(cu) == 1 {
		r := cu[0].Reasons[0]
		if len(r.Evidence) != 1 || r.Evidence[0] != "pcr-1" || r.Until != "2020-03-16T09:00:00+08:00" || r.ClearsWhen == "" {
			t.Errorf("confirmed reason = %+v", r)
		}
	}
	check("fever", fever, []string{"red", "green"}, nil)
	// The override holds green until 03-20; then the fever rule, which only a
	// negative PCR clears, applies again, on a timer.
	co := check("corrected", corrected, []string{"red", "green", "red"}, []string{"suspected"})
	if len(co) == 3 {
		if r := co[1].Reasons; len(r) != 1 || r[0].Rule != "override" ||
			r[0].TextEN != "Corrected to green after an official review. thermometer fault confirmed on appeal" ||
			r[0].TextZH != "经官方复核，已更正为绿码。thermometer fault confirmed on appeal" || r[0].Until != "2020-03-20T09:00:00+08:00" {
			t.Errorf("override reasons = %+v", r)
		}
		if co[1].ReviewAt != "2020-03-20T09:00:00+08:00" || co[2].EffectiveAt != "2020-03-20T09:00:00+08:00" {
			t.Errorf("override review %s, expiry effective %s; want both 2020-03-20T09:00", co[1].ReviewAt, co[2].EffectiveAt)
		}
	}
	tu := check("traveller", traveller, []string{"red", "yellow", "green"}, nil)
	if len(tu) == 3 {
		if tu[1].EffectiveAt != "2020-03-17T10:00:00+08:00" || tu[2].EffectiveAt != "2020-03-24T10:00:00+08:00" {
			t.Errorf("traveller timer updates effective at %s and %s, want 2020-03-17T10:00 and 2020-03-24T10:00", tu[1].EffectiveAt, tu[2].EffectiveAt)
		}
		if tu[0].ReviewAt != "2020-03-17T10:00:00+08:00" {
			t.Errorf("traveller review_at %q", tu[0].ReviewAt)
		}
	}
	check("bystander", bystander, []string{"green"}, nil)

	// Dead letters carry the reason and the origin.
	dead := readAll(t, brokers, "hc.dead-letter")
	if len(dead) != 2 {
		for _, m := range dead {
			t.Logf("dead letter: %s", header(m, "error"))
		}
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for _, m := range dead {
		if header(m, "error") == "" || header(m, "topic") == "" || header(m, "partition") == "" || header(m, "offset") == "" {
			t.Errorf("dead letter without headers: %v", m.Headers)
		}
	}

	// ClickHouse: current colours agree with the last updates; every update is a row.
	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := c.Count(ctx, "colour_changes", false)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, ups := range byPerson {
			want += len(ups)
		}
		if n >= uint64(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("colour_changes has %d rows, want %d", n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range all {
		ups := byPerson[p.key]
		key := mustKey(t, p.key)
		cur, err := c.Current(ctx, key)
		if err != nil || cur == nil {
			t.Fatalf("current colour of %s: %v %v", p.key, cur, err)
		}
		if last := ups[len(ups)-1]; cur.Colour != last.Colour || cur.Version != last.Version {
			t.Errorf("colours_current %s v%d, last update %s v%d", cur.Colour, cur.Version, last.Colour, last.Version)
		}
	}
	events, err := c.Count(ctx, "events", true)
	if err != nil {
		t.Fatal(err)
	}
	if events != 9 {
		t.Errorf("events FINAL has %d rows, want 9 (5 in phase 1, 3 distinct in phase 2, 1 in phase 3)", events)
	}

	assertNoRawIDs(t, brokers, c, all)
}

// assertNoRawIDs checks that no raw ID number of people appears in any
// internal topic or in any string column of ClickHouse. (hc.dead-letter holds
// rejected messages as received, by contract, and is left out.)
func assertNoRawIDs(t *testing.T, brokers []string, c *clickhouse.Client, people []person) {
	t.Helper()
	for _, topic := range []string{"hc.person-events", "hc.area-risk", "hc.colour-updates", "hc.scoring-state", "hc.presence", "hc.exposures", "hc.journeys",
		"hc.overrides", "hc.override-audit"} {
		for _, m := range readAll(t, brokers, topic) {
			for _, p := range people {
				if bytes.Contains(m.Value, []byte(p.id)) || bytes.Contains(m.Key, []byte(p.id)) {
					t.Errorf("raw ID number found in %s", topic)
				}
			}
		}
	}
	for _, table := range []string{"events", "colour_changes", "colours_current", "exposures", "return_journeys", "override_audit", "override_alerts"} {
		for _, p := range people {
			var n uint64
			q := fmt.Sprintf("SELECT count() FROM %s WHERE position(concat(%s), '%s') > 0", table, stringColumns(t, c, table), p.id)
			if err := c.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("raw ID number found in ClickHouse table %s", table)
			}
		}
	}
}

// stringColumns returns the table's String and FixedString columns as a
// comma-separated list for concat().
func stringColumns(t *testing.T, c *clickhouse.Client, table string) string {
	rows, err := c.Conn().Query(context.Background(),
		"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ? AND (type LIKE '%String%')", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, "toString("+n+")")
	}
	cols = append(cols, "''")
	return strings.Join(cols, ", ")
}

func badCheckDigit(id string) string {
	last := id[17]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return id[:17] + string(repl)
}

func mustKey(t *testing.T, s string) scoring.PersonKey {
	t.Helper()
	key, err := scoring.ParsePersonKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestEndToEnd_ClickHouseDownDoesNotStallScoring: with no ClickHouse at all,
// the sink keeps retrying on its own and scoring still issues colour updates.
func TestEndToEnd_ClickHouseDownDoesNotStallScoring(t *testing.T) {
	brokers, _ := startParts(t)
	down := clickhouse.Options{Addr: "127.0.0.1:1", Database: "nowhere"}
	h := startPipeline(t, brokers, down)
	defer h.stop()
	p := newPerson(rand.New(rand.NewPCG(9, 9)), "330102")
	produce(t, brokers, []upstream{{"src.tests", "", fmt.Sprintf(
		`{"event_id":"pcr-down","source":"e2e","occurred_at":"2020-03-02T09:00:00+08:00","person":%s,"test":{"kind":"pcr","result":"positive","reported_at":"2020-03-02T20:00:00+08:00","lab":"lab-1"}}`, p.json())}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range readAll(t, brokers, "hc.colour-updates") {
			var u sinks.ColourUpdate
			if err := json.Unmarshal(m.Value, &u); err == nil && u.PersonKey == p.key && u.Colour == "red" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no colour update within 30s while ClickHouse was down")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEndToEnd_PolicyChange publishes a new policy on hc.policy: every person
// is recomputed under it and re-issued where the decision changed; an invalid
// policy is refused with its reason and the one in force kept.
func TestEndToEnd_PolicyChange(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
	p := newPerson(rand.New(rand.NewPCG(4, 4)), "330106")
	produce(t, brokers, []upstream{{"src.declarations", "", fmt.Sprintf(
		`{"event_id":"decl-pc","source":"e2e","occurred_at":"2020-03-02T08:00:00+08:00","person":%s,"symptoms":["fever"]}`, p.json())}})
	h.drain(ctx)

	raw, err := policies.Raw("domestic")
	if err != nil {
		t.Fatal(err)
	}
	// domestic@2: a suspected case is yellow, not red.
	v2 := strings.Replace(string(raw), `"version": 1`, `"version": 2`, 1)
	v2 = strings.Replace(v2, `"id": "suspected",
      "colour": "red"`, `"id": "suspected",
      "colour": "yellow"`, 1)
	if v2 == string(raw) || !strings.Contains(v2, `"version": 2`) {
		t.Fatal("could not derive domestic@2 from the shipped policy")
	}
	w := kafkaClient(t, brokers).NewWriter("hc.policy", nil)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(wire.PolicyKey), Value: []byte(v2)},
		kafka.Message{Key: []byte(wire.PolicyKey), Value: []byte(`{"name": "broken"}`)}); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		var last sinks.ColourUpdate
		for _, m := range readAll(t, brokers, "hc.colour-updates") {
			var u sinks.ColourUpdate
			if err := json.Unmarshal(m.Value, &u); err == nil && u.PersonKey == p.key && u.Version > last.Version {
				last = u
			}
		}
		if last.Policy == "domestic@2" {
			if last.Colour != "yellow" || last.Version != 2 || last.Previous != "red" {
				t.Errorf("after the policy change: %s v%d (previous %s), want yellow v2 (previous red)", last.Colour, last.Version, last.Previous)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no update under domestic@2 within 30s (last %s v%d under %s)", last.Colour, last.Version, last.Policy)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var refused bool
	for deadline := time.Now().Add(10 * time.Second); !refused && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range readAll(t, brokers, "hc.dead-letter") {
			refused = refused || (header(m, "topic") == "hc.policy" && strings.Contains(header(m, "error"), "policy refused"))
		}
	}
	if !refused {
		t.Error("the invalid policy was not dead-lettered with its reason")
	}
}
