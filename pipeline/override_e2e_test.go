package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"healthcode/pipeline"
	"healthcode/sinks/clickhouse"
	"healthcode/sources"
	"healthcode/sources/sim"
)

// TestEndToEnd_OverrideBurst replays a Zhengzhou-like burst from the
// simulator (300 overrides to red by one officer within an hour, amid a
// province's ordinary traffic) through every stage: the officer's alert
// fires within the hour at the 21st override, the next ones wait for a
// second approver until the rate limit refuses the rest, every override is in
// the audit, no officer's name leaves ingest, and after a restart a held
// override confirmed by a second approver is applied.
func TestEndToEnd_OverrideBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("override burst end-to-end test skipped in -short mode")
	}
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	h := startPipeline(t, brokers, chOpts)

	topics := map[sources.Stream]string{}
	for _, s := range sources.Streams {
		topics[s] = s.DefaultTopic()
	}
	prod := pipeline.NewUpstreamProducer(kafkaClient(t, brokers), topics)
	type burstMsg struct {
		id    string
		at    time.Time
		value []byte
	}
	var burst []burstMsg
	ids := map[string]bool{} // every override's event_id
	cfg := sim.Config{People: 4000, Days: 3, Seed: 5, CheckinsPerDay: 1, OverrideBurst: 300}
	_, err := sim.Run(ctx, cfg, func(m sim.Message) error {
		if m.Stream == sources.StreamOverrides {
			var v struct {
				ID      string    `json:"event_id"`
				At      time.Time `json:"occurred_at"`
				Officer string    `json:"officer"`
			}
			if err := json.Unmarshal(m.Value, &v); err != nil {
				return err
			}
			ids[v.ID] = true
			if v.Officer == "officer-900" {
				burst = append(burst, burstMsg{v.ID, v.At, bytes.Clone(m.Value)})
			}
		}
		return prod.Add(ctx, m.Stream, m.Key, m.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h.drain(ctx)
	if len(burst) != 300 {
		t.Fatalf("the simulator sent %d burst overrides, want 300", len(burst))
	}
	sort.Slice(burst, func(i, j int) bool { return burst[i].at.Before(burst[j].at) })
	officer := sources.PersonKey(testKey, sources.IDTypeOfficer, "officer-900").String()

	m := h.p.Options().OverrideMetrics
	if n := testutil.ToFloat64(m.Alerts.WithLabelValues("officer-red")); n != 1 {
		t.Errorf("healthcode_override_alerts_total{reason=officer-red} = %v, want 1", n)
	}
	c, err := clickhouse.Open(ctx, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitRows(t, c, "SELECT uniqExact(source, event_id) FROM override_audit WHERE decision IN ('accepted', 'refused', 'held')", uint64(len(ids)))

	// The alert: raised by the 21st override, within the hour of the first.
	var raisedAt time.Time
	var eventID, scope, alertOfficer string
	var count uint32
	if err := c.Conn().QueryRow(ctx, `SELECT raised_at, event_id, toString(scope), officer_key, count FROM override_alerts
WHERE rule = 'officer-red'`).Scan(&raisedAt, &eventID, &scope, &alertOfficer, &count); err != nil {
		t.Fatal(err)
	}
	if eventID != burst[20].id || count != 21 || scope != "officer" || alertOfficer != officer ||
		raisedAt.Sub(burst[0].at) >= time.Hour || !raisedAt.Equal(burst[20].at) {
		t.Errorf("officer-red alert raised at %s by %s (count %d, scope %s); want the 21st override %s at %s, within an hour of %s",
			raisedAt, eventID, count, scope, burst[20].id, burst[20].at, burst[0].at)
	}
	rules, err := c.OverrideAlertCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 60 counted in the hour (the rate limit refuses the rest): more than
	// 50 to red in the hour and the day, more than 40 by one pair; not more
	// than 100 in the region in a day, nor 200 to one colour in an hour.
	want := map[string]uint64{"officer-red": 1, "officer-red-day": 1, "pair": 1, "colour-red": 1}
	if fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Errorf("alerts by rule %v, want %v", rules, want)
	}

	// The burst's decisions: 20 accepted, 40 held, 240 refused by the rate limit.
	decided := map[string]string{}
	rows, err := c.Conn().Query(ctx, `SELECT event_id, toString(decision) FROM override_audit WHERE officer_key = ? AND decision IN ('accepted', 'refused', 'held')`, officer)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			t.Fatal(err)
		}
		decided[id] = d
	}
	rows.Close()
	byDecision := map[string]int{}
	for i, b := range burst {
		byDecision[decided[b.id]]++
		wantD := "accepted"
		switch {
		case i >= 60:
			wantD = "refused"
		case i >= 20:
			wantD = "held"
		}
		if decided[b.id] != wantD {
			t.Errorf("burst override %d (%s): %q, want %s", i, b.id, decided[b.id], wantD)
			break
		}
	}
	t.Logf("burst decisions %v, alerts %v", byDecision, rules)
	// Every accepted override was applied by the scoring stage, with the
	// colours before and after.
	waitRows(t, c, "SELECT uniqExact(event_id) FROM override_audit WHERE decision IN ('applied', 'superseded')",
		count1(t, c, "SELECT uniqExact(event_id) FROM override_audit WHERE decision = 'accepted'"))
	if n := count1(t, c, "SELECT count() FROM override_audit WHERE decision = 'applied' AND officer_key = ? AND colour_after = 'red'", officer); n != 20 {
		t.Errorf("%d burst overrides applied to red, want 20", n)
	}

	// A restart: the guard restores its windows and holds from its audit.
	// A held override confirmed by a second approver is applied.
	h.stop()
	h = startPipeline(t, brokers, chOpts)
	defer h.stop()
	held := burst[25]
	var conf map[string]any
	if err := json.Unmarshal(held.value, &conf); err != nil {
		t.Fatal(err)
	}
	confAt := held.at.Add(3 * time.Hour)
	conf["event_id"], conf["confirms"], conf["approver"] = "confirm-1", held.id, "officer-777"
	conf["occurred_at"] = confAt.Format(time.RFC3339)
	cb, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	later := fmt.Sprintf(`{"event_id":"decl-late","source":"e2e","occurred_at":%q,"person":%s}`,
		confAt.Add(5*time.Minute).Format(time.RFC3339), newPersonJSON(t))
	produce(t, brokers, []upstream{{"src.overrides", "", string(cb)}, {"src.declarations", "", later}})
	h.drain(ctx)
	second := sources.PersonKey(testKey, sources.IDTypeOfficer, "officer-777").String()
	waitRows(t, c, "SELECT count() FROM override_audit WHERE decision = 'applied' AND event_id = ?", 1, held.id)
	if n := count1(t, c, "SELECT count() FROM override_audit WHERE decision = 'confirmed' AND event_id = 'confirm-1' AND confirms = ?", held.id); n != 1 {
		t.Errorf("%d confirmed rows, want 1", n)
	}
	if n := count1(t, c, "SELECT count() FROM override_audit WHERE decision = 'accepted' AND event_id = ? AND second_approver_key = ?", held.id, second); n != 1 {
		t.Errorf("%d accepted rows of the held override with the second approver, want 1", n)
	}
	if n := testutil.ToFloat64(h.p.Options().OverrideMetrics.Alerts.WithLabelValues("officer-red")); n != 0 {
		t.Errorf("the restarted guard raised officer-red again")
	}
	if rules, err := c.OverrideAlertCounts(ctx); err != nil || fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Errorf("after the restart, alerts by rule %v (%v), want %v", rules, err, want)
	}

	// No officer's or approver's name left ingest.
	names := []string{"officer-900", "officer-901", "officer-777", "OFFICER900"}
	for _, topic := range []string{"hc.person-events", "hc.colour-updates", "hc.scoring-state", "hc.overrides", "hc.override-audit"} {
		for _, msg := range readAll(t, brokers, topic) {
			for _, n := range names {
				if bytes.Contains(msg.Value, []byte(n)) || bytes.Contains(msg.Key, []byte(n)) {
					t.Fatalf("officer name %s found in %s", n, topic)
				}
			}
		}
	}
	for _, table := range []string{"events", "colour_changes", "override_audit", "override_alerts"} {
		for _, n := range names {
			q := fmt.Sprintf("SELECT count() FROM %s WHERE position(concat(%s), '%s') > 0", table, stringColumns(t, c, table), n)
			if count1(t, c, q) != 0 {
				t.Errorf("officer name %s found in ClickHouse table %s", n, table)
			}
		}
	}
}

func newPersonJSON(t *testing.T) string {
	t.Helper()
	return `{"id_type":"passport","id_number":"E12345678"}`
}

func count1(t *testing.T, c *clickhouse.Client, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := c.Conn().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitRows waits until the query gives want (the sink inserts after the
// topics drain).
func waitRows(t *testing.T, c *clickhouse.Client, q string, want uint64, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := count1(t, c, q, args...)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", q, n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
