package clickhouse

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetryStamps(t *testing.T) {
	r := newRetryStamps()
	t0 := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	cols := func(id string) []any {
		return []any{[]string{id, "b"}, [][]byte{[]byte("k1"), []byte("k2")}, []int8{1, 2}, []uint64{7, 8}, [][]string{{"x"}, {}}, []float32{36.6, 0}}
	}
	s1, err := r.take("events", cols("a"), t0)
	if err != nil || s1.at != t0.Unix() {
		t.Fatalf("first take = %+v, %v", s1, err)
	}
	r.done("events", s1, errors.New("shard 2 unreachable"))
	// The retry of the same rows, later, carries the first attempt's stamp.
	s2, _ := r.take("events", cols("a"), t0.Add(time.Minute))
	if s2.at != t0.Unix() {
		t.Errorf("retry stamped %d, want the failed insert's %d", s2.at, t0.Unix())
	}
	// Other rows, or the same rows into another table, are new inserts.
	if s, _ := r.take("events", cols("c"), t0.Add(time.Minute)); s.at == t0.Unix() {
		t.Error("different rows got the failed insert's stamp")
	}
	if s, _ := r.take("exposures", cols("a"), t0.Add(time.Minute)); s.at == t0.Unix() {
		t.Error("another table got the failed insert's stamp")
	}
	// After a success the stamp is forgotten.
	r.done("events", s2, nil)
	if s, _ := r.take("events", cols("a"), t0.Add(time.Minute)); s.at == t0.Unix() {
		t.Error("a redelivery after a success got the old stamp")
	}
	if _, err := r.take("events", []any{[]complex64{1}}, t0); err == nil {
		t.Error("an unhashable column type was accepted")
	}
}

func TestClusterStatements(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Database: "hc", Cluster: "prod"}
	// The sharding key of each table: the first ORDER BY column.
	keys := map[string]string{"events": "person_key", "colour_changes": "person_key", "colours_current": "person_key",
		"exposures": "exposed_key", "area_designations": "code", "policy_versions": "name",
		"colour_transitions_daily": "day", "exposures_daily": "day", "place_exposures": "place",
		"return_journeys": "person_key", "override_audit": "officer_key", "override_alerts": "raised_at"}
	tables, views := 0, 0
	for _, m := range ms {
		for _, s := range m.Statements {
			out, err := clusterStatements(o, s)
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			switch {
			case copyTableRE.MatchString(s):
				if len(out) != 0 {
					t.Errorf("%s: a copy became %d statements, want none", m.Name, len(out))
				}
				continue
			case dropTableRE.MatchString(s):
				name := dropTableRE.FindStringSubmatch(s)[1]
				if len(out) != 2 || !contains(out[0], "`"+name+"` ON CLUSTER `prod`") || !contains(out[1], "`"+name+"_local` ON CLUSTER `prod`") {
					t.Errorf("%s: drop of %s became %q", m.Name, name, out)
				}
				continue
			}

			if strings.HasPrefix(s, "CREATE MATERIALIZED VIEW") {
				views++
				if len(out) != 1 {
					t.Fatalf("%s: %d statements for a view, want 1", m.Name, len(out))
				}
				v := createViewRE.FindStringSubmatch(s)
				src := fromRE.FindStringSubmatch(v[3])[1]
				for _, w := range []string{"CREATE MATERIALIZED VIEW IF NOT EXISTS `hc`.`" + v[1] + "` ON CLUSTER `prod` TO `hc`.`" + v[2] + "_local` AS",
					"FROM `hc`.`" + src + "_local`"} {
					if !contains(out[0], w) {
						t.Errorf("%s: view lacks %q:\n%s", v[1], w, out[0])
					}
				}
				continue
			}
			tables++
			if len(out) != 2 {
				t.Fatalf("%s: %d statements, want 2", m.Name, len(out))
			}
			name := createTableRE.FindStringSubmatch(s)[1]
			engine := createTableRE.FindStringSubmatch(s)[3]
			local, dist := out[0], out[1]
			want := "CREATE TABLE IF NOT EXISTS `hc`.`" + name + "_local` ON CLUSTER `prod`"
			if local[:len(want)] != want {
				t.Errorf("%s: local table starts %.80q", name, local)
			}
			if (name == "override_audit" || name == "override_alerts") && engine != "MergeTree" {
				t.Errorf("%s: engine %s, want MergeTree (the audit is append-only)", name, engine)
			}
			for _, w := range []string{"ENGINE = Replicated" + engine + "('/clickhouse/tables/prod/{shard}/hc/" + name + "', '{replica}'", "ORDER BY"} {
				if !contains(local, w) {
					t.Errorf("%s: local table lacks %q", name, w)
				}
			}
			if contains(local, "COMMENT") {
				t.Errorf("%s: local table keeps column comments, which 18.16 refuses on Replicated tables", name)
			}
			key, ok := keys[name]
			if !ok {
				t.Errorf("%s: no shard key known for this table: add it to keys", name)
				continue
			}
			if w := "ENGINE = Distributed('prod', 'hc', '" + name + "_local', sipHash64(" + key + "))"; !contains(dist, w) {
				t.Errorf("%s: distributed table lacks %q:\n%s", name, w, dist)
			}
		}
	}
	if tables < len(keys) || views != 3 {
		t.Errorf("%d tables and %d views rewritten, want at least %d and 3", tables, views, len(keys))
	}
	// colours_current keeps its version column.
	if out, _ := clusterStatements(o, ms[2].Statements[0]); !contains(out[0], "'{replica}', version)") {
		t.Errorf("colours_current lost its version column: %s", out[0])
	}
	if _, err := clusterStatements(o, "ALTER TABLE events ADD COLUMN x UInt8"); err == nil {
		t.Error("an ALTER was rewritten as if it were a CREATE")
	}
	if _, err := clusterStatements(o, "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT a FROM x JOIN (SELECT a FROM y) USING a"); err == nil {
		t.Error("a view reading two tables was rewritten")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
