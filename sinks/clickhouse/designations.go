package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"healthcode/scoring"
)

const designationColumns = "code, area_kind, cell, level, valid_from, valid_until, event_id"

// areaKindNames and riskLevelNames are the Enum8 names of area_designations.
var (
	areaKindNames  = map[scoring.AreaKind]string{scoring.AreaCountry: "country", scoring.AreaRegion: "region", scoring.AreaH3: "h3"}
	riskLevelNames = map[scoring.RiskLevel]string{scoring.RiskLow: "low", scoring.RiskMedium: "medium", scoring.RiskHigh: "high"}
)

// WriteDesignations inserts area risk designations (validated ones, as on
// hc.area-risk) into area_designations in one batched columnar insert. Every
// row is checked before anything is written.
func (c *Client) WriteDesignations(ctx context.Context, ds []scoring.Designation) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	codes, kinds, levels, ids := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	cells := make([]uint64, n)
	froms, untils := make([]time.Time, n), make([]time.Time, n)
	for i := range ds {
		d := &ds[i]
		kind, ok := areaKindNames[d.Kind]
		level, ok2 := riskLevelNames[d.Level]
		if !ok || !ok2 || d.Code == "" || d.From == 0 {
			return fmt.Errorf("write designations: row %d: kind %d, level %d, code or start missing", i, d.Kind, d.Level)
		}
		code := d.Code
		if d.Kind == scoring.AreaH3 {
			code = strings.ToLower(code)
		}
		codes[i], kinds[i], levels[i], ids[i], cells[i] = code, kind, level, d.ID, d.Cell
		froms[i], untils[i] = d.From.Std(), time.Unix(0, 0).UTC()
		if d.Until != 0 {
			untils[i] = d.Until.Std()
		}
	}
	if err := c.insertColumns(ctx, "area_designations", designationColumns,
		[]any{codes, kinds, cells, levels, froms, untils, ids}); err != nil {
		return fmt.Errorf("write designations: %w", err)
	}
	return nil
}

// PolicyVersion is one row of policy_versions.
type PolicyVersion struct {
	Policy      *scoring.Policy
	JSON        []byte    // the document: as published, or the start policy as parsed
	Published   time.Time // the hc.policy record's timestamp, or the process start
	FromTopic   bool      // a record of hc.policy (else the policy a process started with)
	KafkaOffset int64     // offset on hc.policy; -1 for a start policy
}

const policyColumns = "name, version, stamp, source, published_at, kafka_offset, policy"

// WritePolicyVersions inserts policies into policy_versions in one insert.
func (c *Client) WritePolicyVersions(ctx context.Context, vs []PolicyVersion) error {
	if len(vs) == 0 {
		return nil
	}
	n := len(vs)
	names, stamps, sources, docs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	versions, offsets, ats := make([]uint32, n), make([]int64, n), make([]time.Time, n)
	for i := range vs {
		v := &vs[i]
		if v.Policy == nil || len(v.JSON) == 0 {
			return fmt.Errorf("write policy versions: row %d: no policy", i)
		}
		names[i], versions[i], stamps[i], docs[i] = v.Policy.Name, uint32(v.Policy.Version), v.Policy.Stamp(), string(v.JSON)
		sources[i], offsets[i], ats[i] = "start", -1, v.Published.UTC()
		if v.FromTopic {
			sources[i], offsets[i] = "topic", v.KafkaOffset
		}
	}
	if err := c.insertColumns(ctx, "policy_versions", policyColumns,
		[]any{names, versions, stamps, sources, ats, offsets, docs}); err != nil {
		return fmt.Errorf("write policy versions: %w", err)
	}
	return nil
}
