package wire

import (
	"encoding/json"
	"errors"
	"fmt"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// Exposure is a record on the internal topic hc.exposures (JSON, one record a
// message, keyed by the exposed person's key) and a row of the ClickHouse
// exposures table: who was exposed to whom, where, when, and on
// which evidence — what an epidemiologist needs to draw transmission chains.
// Person keys are pseudonymous; times are Unix seconds.
//
// A record is one version of one exposure: the id is the same for every
// version (a hash of exposed, source, kind and place), the highest version is
// the current one, and a retracted version (times 0, no evidence) takes the
// exposure back.
type Exposure struct {
	ID           string   `json:"exposure_id"` // deterministic from the identity: versions and redeliveries collapse
	Exposed      string   `json:"exposed_key"`
	Source       string   `json:"source_key"` // the case (or, for secondary contacts, the case behind the chain); empty for area risk
	Kind         string   `json:"kind"`       // one of ExposureKinds
	Place        string   `json:"place"`      // place key: v:venue, c:H3 cell, r:region, f:flight
	OverlapStart int64    `json:"overlap_start"`
	OverlapEnd   int64    `json:"overlap_end"`
	ExposedAt    int64    `json:"exposed_at"` // the time the colour rule counts from
	Evidence     []string `json:"evidence"`
	Version      uint64   `json:"version"`   // rises with every version of the exposure
	Retracted    bool     `json:"retracted"` // this version takes the exposure back
}

// ExposureKinds names the scoring exposure kinds as written to ClickHouse.
var ExposureKinds = map[scoring.ExposureKind]string{
	scoring.ExposureClose:      "close_contact",
	scoring.ExposureCompanion:  "companion",
	scoring.ExposureSecondary:  "secondary_contact",
	scoring.ExposureAreaHigh:   "area_high",
	scoring.ExposureAreaMedium: "area_medium",
}

// ExposureKindName returns the name of an exposure kind.
func ExposureKindName(k scoring.ExposureKind) (string, error) {
	n, ok := ExposureKinds[k]
	if !ok {
		return "", fmt.Errorf("unknown exposure kind %d", k)
	}
	return n, nil
}

func unix(t scoring.Time) int64 {
	if t == 0 {
		return 0
	}
	return t.Std().Unix()
}

// NewExposure renders a tracing exposure as a record.
func NewExposure(x *tracing.Exposure) (Exposure, error) {
	kind, err := ExposureKindName(x.Kind)
	if err != nil {
		return Exposure{}, err
	}
	src := ""
	if x.Source != (scoring.PersonKey{}) {
		src = x.Source.String()
	}
	ev := x.Evidence
	if ev == nil {
		ev = []string{}
	}
	return Exposure{ID: x.ID, Exposed: x.Exposed.String(), Source: src, Kind: kind, Place: x.Place,
		OverlapStart: unix(x.Start), OverlapEnd: unix(x.End), ExposedAt: unix(x.At), Evidence: ev,
		Version: x.Version, Retracted: x.Retracted}, nil
}

// EncodeExposure writes x as it goes on hc.exposures.
func EncodeExposure(x *Exposure) ([]byte, error) {
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("encode exposure: %w", err)
	}
	return json.Marshal(x)
}

// DecodeExposure reads a record of hc.exposures, refusing one that is not
// JSON of this shape or whose keys, kind or id are not what a writer writes.
func DecodeExposure(b []byte) (Exposure, error) {
	var x Exposure
	if err := json.Unmarshal(b, &x); err != nil {
		return Exposure{}, fmt.Errorf("decode exposure: %w", err)
	}
	return x, nil
}

// UnmarshalJSON decodes and validates a record, so that a reader decoding
// with encoding/json (the sink does) gets the same checks as DecodeExposure.
func (x *Exposure) UnmarshalJSON(b []byte) error {
	type plain Exposure // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := (*Exposure)(&p).Validate(); err != nil {
		return err
	}
	*x = Exposure(p)
	return nil
}

// Validate checks what every record holds: hex person keys, a known kind
// and an id. The sink's ClickHouse writer refuses a row it fails.
func (x *Exposure) Validate() error {
	if !isKeyHex(x.Exposed) || (x.Source != "" && !isKeyHex(x.Source)) {
		return errors.New("person keys must be 32 lowercase hex characters")
	}
	known := false
	for _, k := range ExposureKinds {
		known = known || k == x.Kind
	}
	if !known {
		return fmt.Errorf("kind %q is not an exposure kind", x.Kind)
	}
	if x.ID == "" {
		return errors.New("exposure id is empty")
	}
	return nil
}

// isKeyHex reports whether s is a person key as written: 32 lowercase hex.
func isKeyHex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
