package clickhouse_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"healthcode/pipeline/wire"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

// TestWriteDesignationsAndPolicies writes designations and policy versions
// twice (a redelivery) and reads them back once each, with their columns.
func TestWriteDesignationsAndPolicies(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	ds := []scoring.Designation{
		{Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskHigh, From: scoring.MustTime("2020-02-20T00:00:00Z"), ID: "area-1"},
		{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskMedium, From: scoring.MustTime("2020-03-01T00:00:00Z"),
			Until: scoring.MustTime("2020-03-15T00:00:00Z"), ID: "area-2"},
		{Kind: scoring.AreaH3, Code: "8830E1C6B5FFFFF", Cell: 0x8830e1c6b5fffff, Level: scoring.RiskLow, From: scoring.MustTime("2020-03-05T00:00:00Z"), ID: "area-3"},
	}
	for range 2 {
		if err := c.WriteDesignations(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() FROM area_designations FINAL"); n != 3 {
		t.Errorf("area_designations FINAL = %d, want 3", n)
	}
	var kind, level, code string
	var cell uint64
	var from, until time.Time
	if err := c.Conn().QueryRow(ctx, "SELECT toString(area_kind), toString(level), code, cell, valid_from, valid_until FROM area_designations FINAL WHERE event_id = 'area-3'").
		Scan(&kind, &level, &code, &cell, &from, &until); err != nil {
		t.Fatal(err)
	}
	if kind != "h3" || level != "low" || code != "8830e1c6b5fffff" || cell != 0x8830e1c6b5fffff || !from.Equal(ds[2].From.Std()) || until.Unix() != 0 {
		t.Errorf("h3 row = %s %s %s %x %v %v", kind, level, code, cell, from, until)
	}
	if n := count(t, c, "SELECT count() FROM area_designations FINAL WHERE event_id = 'area-2' AND valid_until = toDateTime('2020-03-15 00:00:00', 'UTC')"); n != 1 {
		t.Errorf("region designation's until not stored")
	}
	if err := c.WriteDesignations(ctx, []scoring.Designation{{Kind: scoring.AreaCountry, Code: "DEU", From: 5, ID: "x"}}); err == nil {
		t.Error("a designation without a level was written")
	}

	p, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	vs := []clickhouse.PolicyVersion{
		{Policy: p, JSON: doc, Published: start, KafkaOffset: -1},
		{Policy: p, JSON: []byte(`{"name":"domestic"}`), Published: start.Add(time.Hour), FromTopic: true, KafkaOffset: 7},
	}
	for range 2 {
		if err := c.WritePolicyVersions(ctx, vs); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() FROM policy_versions FINAL WHERE stamp = 'domestic@1'"); n != 2 {
		t.Errorf("policy_versions FINAL = %d, want 2", n)
	}
	var back string
	if err := c.Conn().QueryRow(ctx, "SELECT policy FROM policy_versions FINAL WHERE source = 'start'").Scan(&back); err != nil {
		t.Fatal(err)
	}
	if q, err := scoring.ParsePolicy([]byte(back)); err != nil || q.Stamp() != "domestic@1" || len(q.Rules) != len(p.Rules) {
		t.Errorf("the start policy's JSON does not parse back: %v", err)
	}
	if n := count(t, c, "SELECT count() FROM policy_versions FINAL WHERE source = 'topic' AND kafka_offset = 7 AND published_at = toDateTime('2024-05-01 09:00:00', 'UTC')"); n != 1 {
		t.Error("the topic row lost its offset or timestamp")
	}
}

// TestRollups writes colour updates and exposures, each batch twice (a
// redelivery), and checks the three materialized views count each identity
// once: the rollups agree with the base tables read with FINAL.
func TestRollups(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	from := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	var ups []sinks.ColourUpdate
	for _, k := range people(rand.New(rand.NewPCG(3, 4)), 5) {
		ups = append(ups, updates(k, 4, from)...)
	}
	for range 2 {
		if err := c.WriteColourUpdates(ctx, ups); err != nil {
			t.Fatal(err)
		}
	}
	// Per (day, transition, rule) the view's persons equal the base table's.
	base := "SELECT toDate(effective_at) AS day, previous, colour, rule, uniqExact(person_key) AS persons FROM colour_changes FINAL " +
		"ARRAY JOIN if(empty(rules), [''], rules) AS rule GROUP BY day, previous, colour, rule"
	if n := count(t, c, "SELECT count() FROM ("+base+")"); n == 0 {
		t.Fatal("no transitions")
	}
	cmp := "SELECT count() FROM (" + base + ") ALL FULL OUTER JOIN (SELECT day, from_colour AS previous, to_colour AS colour, rule, uniqMerge(persons) AS rolled " +
		"FROM colour_transitions_daily GROUP BY day, previous, colour, rule) USING day, previous, colour, rule WHERE persons != rolled"
	if n := count(t, c, cmp); n != 0 {
		t.Errorf("%d transition rows differ between colour_changes and colour_transitions_daily", n)
	}
	if n := count(t, c, "SELECT uniqMerge(updates) FROM colour_transitions_daily WHERE rule = 'close-contact'"); n != count(t, c, "SELECT count() FROM colour_changes FINAL WHERE has(rules, 'close-contact')") {
		t.Errorf("close-contact updates %d differ from colour_changes", n)
	}

	exposed, source := scoring.PersonKey{1, 2, 3}, scoring.PersonKey{9, 8, 7}
	at := scoring.MustTime("2020-03-02T12:30:00Z")
	xs := []wire.Exposure{
		{ID: "x1", Exposed: exposed.String(), Source: source.String(), Kind: "close_contact", Place: "v:V1", OverlapStart: at.Std().Unix() - 1800, OverlapEnd: at.Std().Unix(), ExposedAt: at.Std().Unix()},
		{ID: "x2", Exposed: scoring.PersonKey{4}.String(), Source: source.String(), Kind: "close_contact", Place: "v:V1", OverlapStart: at.Std().Unix() - 600, OverlapEnd: at.Std().Unix() + 3600, ExposedAt: at.Std().Unix() + 3600},
		{ID: "x3", Exposed: exposed.String(), Source: source.String(), Kind: "companion", Place: "c:8830e1c6b5fffff", OverlapStart: at.Std().Unix(), OverlapEnd: at.Std().Unix() + 900, ExposedAt: at.Std().Unix() + 900},
		{ID: "x4", Exposed: exposed.String(), Kind: "area_high", Place: "r:330102", OverlapStart: at.Std().Unix() + 86400, OverlapEnd: at.Std().Unix() + 90000, ExposedAt: at.Std().Unix() + 90000},
	}
	for range 2 {
		if err := c.WriteExposures(ctx, xs); err != nil {
			t.Fatal(err)
		}
	}
	var exp, pers uint64
	if err := c.Conn().QueryRow(ctx, "SELECT uniqMerge(exposures), uniqMerge(persons) FROM exposures_daily WHERE day = '2020-03-02' AND kind = 'close_contact' AND place_kind = 'venue'").Scan(&exp, &pers); err != nil {
		t.Fatal(err)
	}
	if exp != 2 || pers != 2 {
		t.Errorf("exposures_daily venue close contacts = %d exposures, %d persons; want 2, 2", exp, pers)
	}
	if n := count(t, c, "SELECT uniqMerge(exposures) FROM exposures_daily WHERE place_kind = 'region' AND kind = 'area_high' AND day = '2020-03-03'"); n != 1 {
		t.Errorf("area exposure rolled up %d times, want 1", n)
	}
	var first, last time.Time
	var srcs uint64
	if err := c.Conn().QueryRow(ctx, "SELECT uniqMerge(exposures), uniqMerge(sources), minMerge(first_at), maxMerge(last_at) FROM place_exposures WHERE place = 'v:V1' GROUP BY place").
		Scan(&exp, &srcs, &first, &last); err != nil {
		t.Fatal(err)
	}
	if exp != 2 || srcs != 1 || first.Unix() != xs[0].OverlapStart || last.Unix() != xs[1].OverlapEnd {
		t.Errorf("place_exposures v:V1 = %d exposures, %d sources, %v to %v", exp, srcs, first, last)
	}
	if n := count(t, c, "SELECT uniqMerge(sources) FROM place_exposures WHERE place = 'r:330102'"); n != 0 {
		t.Errorf("an area exposure counted %d sources, want 0", n)
	}
}
