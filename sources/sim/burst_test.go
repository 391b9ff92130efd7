package sim

import (
	"encoding/json"
	"testing"
	"time"

	"healthcode/sources"
)

func TestRun_OverrideBurst(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	type ovr struct {
		Colour, ReasonCode, OfficeRegion, Officer, Approver string
		OccurredAt                                          time.Time
	}
	decode := func(res runResult) (burst, other []ovr) {
		for _, m := range res.msgs {
			if m.stream != sources.StreamOverrides {
				continue
			}
			var v struct {
				Colour       string    `json:"colour"`
				ReasonCode   string    `json:"reason_code"`
				OfficeRegion string    `json:"office_region"`
				Officer      string    `json:"officer"`
				Approver     string    `json:"approver"`
				OccurredAt   time.Time `json:"occurred_at"`
			}
			if err := json.Unmarshal(m.value, &v); err != nil {
				t.Fatal(err)
			}
			o := ovr{v.Colour, v.ReasonCode, v.OfficeRegion, v.Officer, v.Approver, v.OccurredAt}
			if o.Officer == "officer-900" {
				burst = append(burst, o)
			} else {
				other = append(other, o)
			}
		}
		return burst, other
	}
	burst, _ := decode(collect(t, Config{People: 3000, Days: 3, CheckinsPerDay: 0.5}))
	if len(burst) != 0 {
		t.Fatalf("%d burst overrides without OverrideBurst", len(burst))
	}
	burst, other := decode(collect(t, Config{People: 3000, Days: 3, CheckinsPerDay: 0.5, OverrideBurst: 25}))
	if len(burst) != 25 || len(other) == 0 {
		t.Fatalf("%d burst and %d other overrides; want 25 and some", len(burst), len(other))
	}
	first, last := burst[0].OccurredAt, burst[0].OccurredAt
	for _, o := range burst {
		if o.Colour != "red" || o.ReasonCode != "medical-isolation" || o.Approver != "officer-901" || o.OfficeRegion != districts[0].code {
			t.Fatalf("burst override %+v", o)
		}
		if o.OccurredAt.Before(first) {
			first = o.OccurredAt
		}
		if o.OccurredAt.After(last) {
			last = o.OccurredAt
		}
	}
	if last.Sub(first) >= time.Hour || first.In(cst).Day() != 3 || first.In(cst).Hour() != 10 {
		t.Fatalf("burst from %s to %s; want within an hour from day 2 (March 3) 10:00", first, last)
	}
	for _, o := range other {
		if (o.Colour == "green") != (o.ReasonCode == "") || o.OfficeRegion == "" {
			t.Fatalf("override %+v: want a reason code exactly when not green, and an office region", o)
		}
	}
}
