package clickhouse_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

func auditEntries(r *rand.Rand, at time.Time) []wire.OverrideAudit {
	ks := people(r, 4)
	base := wire.OverrideAudit{EventID: "o-1", Source: "desk", Person: ks[0].String(), Officer: ks[1].String(), Approver: ks[2].String(),
		Colour: "red", Level: 2, Reason: "isolation ordered", ReasonCode: "medical-isolation", Region: "410105",
		OccurredAt: at.Unix(), Until: at.Add(14 * 24 * time.Hour).Unix(), DecidedAt: at.Add(time.Minute).Unix(), Policy: "domestic@1"}
	held := base
	held.Decision, held.Why = "held", "held for a second approver while alert officer-red stands"
	conf := base
	conf.EventID, conf.Decision, conf.Confirms, conf.Approver = "c-1", "confirmed", "o-1", ks[3].String()
	acc := base
	acc.Decision, acc.SecondApprover, acc.Why = "accepted", ks[3].String(), "confirmed by a second approver"
	applied := base
	applied.Decision, applied.ColourBefore, applied.ColourAfter = "applied", "green", "red"
	refused := base
	refused.EventID, refused.Decision, refused.Why, refused.ReasonCode = "o-2", "refused", "the policy lets an override set the colour red only with a reason code", ""
	return []wire.OverrideAudit{held, conf, acc, applied, refused}
}

func TestWriteOverrideAudit(t *testing.T) {
	// A fixed clock: in cluster mode the writer stamps inserted_at from it, so
	// the second write below is the same block as the first whatever second
	// it lands in (with the wall clock, two writes a second apart differ).
	stamp := time.Date(2020, 3, 3, 3, 0, 0, 0, time.UTC)
	c := open(t, func(o *clickhouse.Options) { o.Now = func() time.Time { return stamp } })
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(31, 32))
	at := time.Date(2020, 3, 3, 2, 0, 0, 0, time.UTC)
	xs := auditEntries(r, at)
	// Append-only: a redelivery is a second row (on a cluster, a Replicated
	// table drops a block identical to one it stored: one row), and the
	// reader shows it once.
	for range 2 {
		if err := c.WriteOverrideAudit(ctx, xs); err != nil {
			t.Fatal(err)
		}
	}
	want := uint64(10)
	if c.Options().Cluster != "" {
		want = 5
	}
	if n, err := c.Count(ctx, "override_audit", false); err != nil || n != want {
		t.Fatalf("override_audit rows = %d (%v), want %d", n, err, want)
	}
	key, err := scoring.ParsePersonKey(xs[0].Person)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OverrideAudit(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(xs) {
		t.Fatalf("reader: %d entries, want %d", len(got), len(xs))
	}
	for _, g := range got {
		found := false
		for _, x := range xs {
			found = found || g == x
		}
		if !found {
			t.Errorf("entry %+v was not written", g)
		}
	}
	counts, err := c.OverrideDecisionCounts(ctx)
	if err != nil || counts["held"] != 1 || counts["refused"] != 1 || counts["applied"] != 1 || counts["confirmed"] != 1 {
		t.Fatalf("decision counts %v %v", counts, err)
	}
	// A decision the table does not know is refused alone.
	bad := xs[0]
	bad.EventID, bad.Decision = "o-3", "approved"
	var re *clickhouse.RefusedError
	if err := c.WriteOverrideAudit(ctx, []wire.OverrideAudit{bad, xs[4]}); !errors.As(err, &re) || len(re.Rows) != 1 || re.Rows[0].Index != 0 {
		t.Fatalf("bad decision: %v", err)
	}
}

func TestWriteOverrideAlerts(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(33, 34))
	off := people(r, 1)[0]
	at := time.Date(2020, 3, 3, 2, 20, 0, 0, time.UTC)
	a := wire.OverrideAlert{AlertID: "alert-officer-red-desk-o-21", Rule: "officer-red", Scope: "officer", Officer: off.String(),
		Colour: "red", Window: 3600, Threshold: 20, Count: 21, RaisedAt: at.Unix(), EventID: "o-21", Policy: "domestic@1"}
	region := a
	region.AlertID, region.Rule, region.Scope, region.Officer, region.Region = "alert-region-red-desk-o-101", "region-red", "region", "", "410105"
	if err := c.WriteOverrideAlerts(ctx, []wire.OverrideAlert{a, region, a}); err != nil {
		t.Fatal(err)
	}
	counts, err := c.OverrideAlertCounts(ctx)
	if err != nil || len(counts) != 2 || counts["officer-red"] != 1 || counts["region-red"] != 1 {
		t.Fatalf("alert counts %v %v", counts, err)
	}
	var scope, officer string
	var threshold, n uint32
	if err := c.Conn().QueryRow(ctx, "SELECT toString(scope), officer_key, threshold, count FROM override_alerts WHERE rule = 'officer-red' LIMIT 1").
		Scan(&scope, &officer, &threshold, &n); err != nil {
		t.Fatal(err)
	}
	if scope != "officer" || officer != off.String() || threshold != 20 || n != 21 {
		t.Errorf("row %s %s %d %d", scope, officer, threshold, n)
	}
	bad := a
	bad.Scope = "desk"
	var re *clickhouse.RefusedError
	if err := c.WriteOverrideAlerts(ctx, []wire.OverrideAlert{bad}); !errors.As(err, &re) || len(re.Rows) != 1 {
		t.Fatalf("bad scope: %v", err)
	}
}

// TestDropExpired_OverrideAudit: the audit outlives every other table and
// goes only after its own retention.
func TestDropExpired_OverrideAudit(t *testing.T) {
	c := open(t, func(o *clickhouse.Options) { o.RetentionDays, o.AuditRetentionDays = 30, 400 })
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(35, 36))
	now := time.Date(2021, 6, 15, 12, 0, 0, 0, time.UTC) // audit cutoff 2020-05-11T12:00Z
	var xs []wire.OverrideAudit
	for i, at := range []string{"2020-04-10T00:00:00Z", "2020-05-20T00:00:00Z", "2021-01-10T00:00:00Z"} {
		x := auditEntries(r, time.Time{})[4]
		x.EventID = "o-" + at
		tm, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		x.OccurredAt, x.Until, x.DecidedAt = tm.Unix(), tm.Add(time.Hour).Unix(), tm.Unix()
		xs = append(xs, x)
		_ = i
	}
	if err := c.WriteOverrideAudit(ctx, xs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DropExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT count() FROM override_audit"); n != 2 {
		t.Errorf("override_audit keeps %d rows, want 2 (April 2020 is past 400 days; May 2020 straddles the cutoff)", n)
	}
	// The audit may not be kept for less than the other tables.
	o := chtest.Start(t)
	o.RetentionDays, o.AuditRetentionDays = 400, 100
	if _, err := clickhouse.Open(context.Background(), o); err == nil || !strings.Contains(err.Error(), "audit retention days") {
		t.Errorf("audit retention below retention: %v", err)
	}
}
