package clickhouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
)

func TestMigrations_Embedded(t *testing.T) {
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// Every migration, by version: a new one is added here.
	want := map[uint32]string{1: "events", 2: "colour_changes", 3: "colours_current", 4: "exposures",
		5: "exposure_versions", 6: "area_designations", 7: "policy_versions", 8: "rollups",
		9: "override_audit", 10: "override_alerts", 11: "return_journeys"}
	if len(ms) != len(want) {
		t.Fatalf("got %d migrations, want %d", len(ms), len(want))
	}
	found := 0
	// events.kind's Enum8 stores scoring.Kind values under their String()
	// names; kinds about no person are never written.
	for k := scoring.KindTest; k.Valid(); k++ {
		def := fmt.Sprintf("'%s' = %d", k, k)
		has := strings.Contains(ms[0].Statements[0], fmt.Sprintf("'%s'", k))
		switch k {
		case scoring.KindTick, scoring.KindArea, scoring.KindMark, scoring.KindJourney:
			if has {
				t.Errorf("events.kind lists %s, which is never written", k)
			}
		default:
			if !strings.Contains(ms[0].Statements[0], def) {
				t.Errorf("events.kind lacks %s", def)
			}
		}
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("migration %04d_%s is out of order", m.Version, m.Name)
		}
		if name, ok := want[m.Version]; ok {
			found++
			if m.Name != name {
				t.Errorf("migration %04d = %s, want %s", m.Version, m.Name, name)
			}
		}
		for _, s := range m.Statements {
			if strings.Contains(s, "--") || strings.HasSuffix(s, ";") {
				t.Errorf("%s: statement keeps a comment or ';': %q", m.Name, s)
			}
			if !strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS ") && !strings.HasPrefix(s, "CREATE MATERIALIZED VIEW IF NOT EXISTS ") &&
				!strings.HasPrefix(s, "DROP TABLE IF EXISTS ") {
				t.Errorf("%s: statement is not idempotent: %.60q", m.Name, s)
			}
			for _, banned := range []string{"TTL", "DateTime64", "LowCardinality", "SimpleAggregateFunction", "POPULATE"} {
				if strings.Contains(s, banned) {
					t.Errorf("%s: uses %s, which ClickHouse 18.16 lacks", m.Name, banned)
				}
			}
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d known migrations", found, len(want))
	}
}

func TestMigrate_Idempotent(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	ms, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, err := c.AppliedMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ms) {
			t.Errorf("%s: %d migrations recorded, want %d", when, len(got), len(ms))
		}
		for _, m := range ms {
			if got[m.Version] != m.Name {
				t.Errorf("%s: version %d recorded as %q, want %q", when, m.Version, got[m.Version], m.Name)
			}
		}
		if n := count(t, c, "SELECT count() FROM schema_migrations"); n != uint64(len(ms)) {
			t.Errorf("%s: schema_migrations has %d rows, want %d", when, n, len(ms))
		}
		db := c.Options().Database
		if n := count(t, c, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('events', 'colour_changes', 'colours_current', 'exposures')", db); n != 4 {
			t.Errorf("%s: %d of the 4 tables exist", when, n)
		}
	}
	check("after Open")
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a second Migrate")

	// A second client on the same database applies nothing either.
	c2, err := clickhouse.Open(ctx, c.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	check("after a second Open")
}

func TestOpen_BadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    clickhouse.Options
		want []string // every setting the error must name
	}{
		{clickhouse.Options{Database: "no-dashes"}, []string{"database"}},
		{clickhouse.Options{Database: "1st"}, []string{"database"}},
		{clickhouse.Options{Database: "x; DROP DATABASE y"}, []string{"database"}},
		{clickhouse.Options{RetentionDays: -1}, []string{"retention days"}},
		{clickhouse.Options{Cluster: "two words"}, []string{"cluster"}},
		{clickhouse.Options{Addr: "no-port"}, []string{"address"}},
		{clickhouse.Options{Password: "p", PasswordFile: "/run/secrets/ch"}, []string{"password", "password file"}},
		{clickhouse.Options{TLSCAFile: "ca.pem"}, []string{"tls ca file", "tls is off"}},
		{clickhouse.Options{TLSInsecureSkipVerify: true}, []string{"tls insecure skip verify", "tls is off"}},
		{clickhouse.Options{TLS: true, TLSCertFile: "c.pem"}, []string{"tls cert file", "tls key file"}},
		{clickhouse.Options{TLS: true, TLSKeyFile: "k.pem"}, []string{"tls cert file", "tls key file"}},
		{clickhouse.Options{TLS: true, TLSCAFile: "ca.pem", TLSInsecureSkipVerify: true}, []string{"tls insecure skip verify", "tls ca file"}},
	} {
		// Addr points nowhere: validation must refuse before dialling.
		if tc.o.Addr == "" {
			tc.o.Addr = "127.0.0.1:1"
		}
		_, err := clickhouse.Open(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), "clickhouse options") {
			t.Errorf("Open(%+v) = %v, want an options error", tc.o, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%+v) = %v: does not name %q", tc.o, err, w)
			}
		}
	}
}

func TestOpen_PasswordFileAndTLSFiles(t *testing.T) {
	dir := t.TempDir()
	// A missing password file or CA file is named before anything is dialled.
	for _, o := range []clickhouse.Options{
		{PasswordFile: dir + "/missing"},
		{TLS: true, TLSCAFile: dir + "/missing.pem"},
		{TLS: true, TLSCertFile: dir + "/c.pem", TLSKeyFile: dir + "/k.pem"},
	} {
		o.Addr = "127.0.0.1:1"
		_, err := clickhouse.Open(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "missing") && !strings.Contains(err.Error(), "no such file") {
			t.Errorf("Open(%+v) = %v, want the missing file named", o, err)
		}
	}
}
