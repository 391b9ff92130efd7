package clickhouse_test

import (
	"context"
	"errors"
	"testing"

	"healthcode/pipeline/wire"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

func TestWriteExposures(t *testing.T) {
	ctx := context.Background()
	c, err := clickhouse.Open(ctx, chtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exposed, source := scoring.PersonKey{1, 2, 3}, scoring.PersonKey{9, 8, 7}
	x := tracing.Exposure{Exposed: exposed, Source: source, Kind: scoring.ExposureClose, Place: "v:V330102000001", Version: 1,
		Start: scoring.MustTime("2020-03-02T12:00:00+08:00"), End: scoring.MustTime("2020-03-02T12:30:00+08:00"),
		At: scoring.MustTime("2020-03-02T12:30:00+08:00"), Evidence: []string{"pcr-1", "chk-1", "chk-2"}, ID: "exp-1"}
	rec, err := wire.NewExposure(&x)
	if err != nil {
		t.Fatal(err)
	}
	area := rec
	area.ID, area.Source, area.Kind, area.Evidence = "exp-2", "", "area_high", nil
	// Written twice: a redelivery merges away.
	for i := 0; i < 2; i++ {
		if err := c.WriteExposures(ctx, []wire.Exposure{rec, area}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.Count(ctx, "exposures", true)
	if err != nil || n != 2 {
		t.Fatalf("exposures FINAL = %d (%v), want 2", n, err)
	}
	var kind, src, place string
	var ev []string
	if err := c.Conn().QueryRow(ctx, "SELECT toString(kind), source_key, place, evidence FROM exposures FINAL WHERE exposure_id = 'exp-1'").Scan(&kind, &src, &place, &ev); err != nil {
		t.Fatal(err)
	}
	if kind != "close_contact" || src != source.String() || place != "v:V330102000001" || len(ev) != 3 {
		t.Errorf("row = %s %s %s %v", kind, src, place, ev)
	}
	// A new version replaces the row, a retraction takes it back, and an older
	// version arriving late changes nothing.
	v2 := rec
	v2.Version, v2.OverlapStart = 2, rec.OverlapStart-3600
	gone := area
	gone.Version, gone.Retracted, gone.OverlapStart, gone.OverlapEnd = 3, true, 0, 0
	late := area
	late.Version = 1
	if err := c.WriteExposures(ctx, []wire.Exposure{v2, gone}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteExposures(ctx, []wire.Exposure{late}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var starts []int64
	rows, err := c.Conn().Query(ctx, "SELECT exposure_id, toInt64(overlap_start) FROM exposures FINAL WHERE retracted = 0 ORDER BY exposure_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var s int64
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		ids, starts = append(ids, id), append(starts, s)
	}
	rows.Close()
	if len(ids) != 1 || ids[0] != "exp-1" || starts[0] != v2.OverlapStart {
		t.Errorf("current exposures %v starting %v, want exp-1 at version 2 (%d)", ids, starts, v2.OverlapStart)
	}
	bad := rec
	bad.Kind = "handshake"
	bad.ID = "exp-3"
	var re *clickhouse.RefusedError
	if err := c.WriteExposures(ctx, []wire.Exposure{bad}); !errors.As(err, &re) || re.Rows[0].Index != 0 {
		t.Errorf("WriteExposures of an unknown kind = %v, want row 0 refused", err)
	}
	if n, err := c.Count(ctx, "exposures", true); err != nil || n != 2 {
		t.Errorf("exposures FINAL = %d (%v) after a refused row, want 2", n, err)
	}
}
