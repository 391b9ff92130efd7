package clickhouse

import (
	"context"
	"fmt"
	"time"

	"healthcode/pipeline/wire"
)

const exposureColumns = "exposure_id, exposed_key, source_key, kind, place, overlap_start, overlap_end, exposed_at, evidence, version, retracted"

// WriteExposures inserts exposure versions in one batched columnar insert.
// The table keeps the highest version of each (exposed_key, exposure_id): read
// it with FINAL and retracted = 0 for the current exposures. An exposure
// the table cannot hold (a bad key, kind or id) or that ClickHouse refuses is
// left out and reported in a *RefusedError (Index: its index in xs) once
// every other one is written; any other error means the call is to be
// retried.
func (c *Client) WriteExposures(ctx context.Context, xs []wire.Exposure) error {
	if len(xs) == 0 {
		return nil
	}
	n := len(xs)
	ids, exposed, sources, kinds, places := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	starts, ends, ats := make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	evidence := make([][]string, 0, n)
	versions, retracted := make([]uint64, 0, n), make([]uint8, 0, n)
	var refused []RefusedRow
	rows := make([]int, 0, n)
	for i := range xs {
		x := &xs[i]
		if err := x.Validate(); err != nil {
			refused = append(refused, RefusedRow{Index: i, Table: "exposures", Err: err})
			continue
		}
		rows = append(rows, i)
		ids, exposed, sources, kinds, places = append(ids, x.ID), append(exposed, x.Exposed), append(sources, x.Source), append(kinds, x.Kind), append(places, x.Place)
		starts = append(starts, time.Unix(x.OverlapStart, 0).UTC())
		ends = append(ends, time.Unix(x.OverlapEnd, 0).UTC())
		ats = append(ats, time.Unix(x.ExposedAt, 0).UTC())
		versions = append(versions, x.Version)
		var r uint8
		if x.Retracted {
			r = 1
		}
		retracted = append(retracted, r)
		ev := x.Evidence
		if ev == nil {
			ev = []string{}
		}
		evidence = append(evidence, ev)
	}
	more, err := c.insertIsolating(ctx, "exposures", exposureColumns,
		[]any{ids, exposed, sources, kinds, places, starts, ends, ats, evidence, versions, retracted}, rows)
	if err != nil {
		return fmt.Errorf("write exposures: %w", err)
	}
	return refusedOrNil(mergeRefused(refused, more))
}
