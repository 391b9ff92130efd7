package clickhouse

import (
	"context"
	"fmt"
	"time"

	"healthcode/sinks"
)

const exposureColumns = "exposure_id, exposed_key, source_key, kind, place, overlap_start, overlap_end, exposed_at, evidence, version, retracted"

// WriteExposures inserts exposure versions in one batched columnar insert.
// Every row is checked before anything is written. The table keeps the highest
// version of each (exposed_key, exposure_id): read it with FINAL and
// retracted = 0 for the current exposures.
func (c *Client) WriteExposures(ctx context.Context, xs []sinks.Exposure) error {
	if len(xs) == 0 {
		return nil
	}
	n := len(xs)
	ids, exposed, sources, kinds, places := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, ends, ats := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	evidence := make([][]string, n)
	versions, retracted := make([]uint64, n), make([]uint8, n)
	for i := range xs {
		x := &xs[i]
		if len(x.Exposed) != 32 || (x.Source != "" && len(x.Source) != 32) {
			return fmt.Errorf("write exposures: row %d: person keys must be 32 hex characters", i)
		}
		known := false
		for _, k := range sinks.ExposureKinds {
			known = known || k == x.Kind
		}
		if !known || x.ID == "" {
			return fmt.Errorf("write exposures: row %d: kind %q or id %q invalid", i, x.Kind, x.ID)
		}
		ids[i], exposed[i], sources[i], kinds[i], places[i] = x.ID, x.Exposed, x.Source, x.Kind, x.Place
		starts[i], ends[i], ats[i] = time.Unix(x.OverlapStart, 0).UTC(), time.Unix(x.OverlapEnd, 0).UTC(), time.Unix(x.ExposedAt, 0).UTC()
		versions[i] = x.Version
		if x.Retracted {
			retracted[i] = 1
		}
		evidence[i] = x.Evidence
		if evidence[i] == nil {
			evidence[i] = []string{}
		}
	}
	if err := c.insertColumns(ctx, "exposures", exposureColumns,
		[]any{ids, exposed, sources, kinds, places, starts, ends, ats, evidence, versions, retracted}); err != nil {
		return fmt.Errorf("write exposures: %w", err)
	}
	return nil
}
