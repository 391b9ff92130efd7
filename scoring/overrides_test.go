package scoring_test

import (
	"fmt"
	"strings"
	"testing"

	"healthcode/scoring"
)

func TestParsePolicy_Overrides(t *testing.T) {
	base := `{"name": "t", "version": 1, "colours": ["green", "yellow", "red"],
 "rules": [{"id": "suspected", "colour": "red", "fact": "suspect", "clear": "tests", "tests": {"negative_pcr": 1},
            "text_en": "x", "text_zh": "x", "clears_en": "x", "clears_zh": "x"}], "overrides": %s}`
	f := func(section, wantErr string) {
		t.Helper()
		p, err := scoring.ParsePolicy([]byte(fmt.Sprintf(base, section)))
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", section, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: err = %v, want %q", section, err, wantErr)
		case wantErr == "" && p.Overrides.CorrectionEN == "":
			t.Errorf("%s: no default correction text", section)
		}
	}
	f(`{}`, "")
	f(`{"colours": {"green": "any", "yellow": "never", "red": "reason_code"}, "reason_codes": ["medical"]}`, "")
	f(`{"colours": {"green": "any", "red": "any"}}`, `"yellow" is not listed`)
	f(`{"colours": {"green": "any", "yellow": "any", "red": "any", "blue": "any"}}`, `"blue" is not a policy colour`)
	f(`{"colours": {"green": "any", "yellow": "sometimes", "red": "any"}}`, "want any, reason_code or never")
	f(`{"colours": {"green": "any", "yellow": "any", "red": "reason_code"}}`, "reason_codes is empty")
	f(`{"reason_codes": ["Medical"]}`, "malformed")
	f(`{"reason_codes": ["a", "a"]}`, "repeated")
	f(`{"max_until": "-1h"}`, "negative")
	f(`{"rate_limit": {"max": 0, "window": "1h"}}`, "rate_limit")
	f(`{"rate_limit": {"max": 5}}`, "rate_limit")
	f(`{"alerts": [{"id": "a", "by": "officer", "window": "1h", "over": 0}]}`, "")
	f(`{"alerts": [{"id": "a", "by": "desk", "window": "1h", "over": 1}]}`, "want officer, pair, colour or region")
	f(`{"alerts": [{"id": "a", "by": "officer", "colour": "blue", "window": "1h", "over": 1}]}`, "not a policy colour")
	f(`{"alerts": [{"id": "a", "by": "officer", "window": "0s", "over": 1}]}`, "positive window")
	f(`{"alerts": [{"id": "a", "by": "officer", "window": "1h", "over": -1}]}`, "positive window")
	f(`{"alerts": [{"id": "a", "by": "officer", "window": "1h"}, {"id": "a", "by": "pair", "window": "1h"}]}`, "repeated")
	f(`{"alert": []}`, "unknown field")
	p, err := scoring.ParsePolicy([]byte(fmt.Sprintf(base, `{"colours": {"green": "any", "yellow": "never", "red": "reason_code"}, "reason_codes": ["medical"]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Overrides.Allow(0) != scoring.AllowAny || p.Overrides.Allow(1) != scoring.AllowNever || p.Overrides.Allow(2) != scoring.AllowReasonCode || p.Overrides.Allow(3) != scoring.AllowNever {
		t.Errorf("allow per level: %v %v %v %v", p.Overrides.Allow(0), p.Overrides.Allow(1), p.Overrides.Allow(2), p.Overrides.Allow(3))
	}
}

func TestOverride_EventCarriesSigners(t *testing.T) {
	o := scoring.Override{ID: "o1", Source: "desk", Person: scoring.PersonKey{1}, Level: 2, At: 10, Until: 20,
		Reason: "r", Officer: scoring.PersonKey{0xab}, Approver: scoring.PersonKey{0xcd}}
	ev := o.Event()
	if ev.Kind != scoring.KindOverride || ev.Level != 2 || ev.End != 20 || ev.Text != "r" || ev.ID != "o1" {
		t.Fatalf("event %+v", ev)
	}
	off, app, ok := scoring.OverrideSigners(&ev)
	if !ok || off != o.Officer || app != o.Approver {
		t.Fatalf("signers %v %v %v", off, app, ok)
	}
	ev.Place = "x"
	if _, _, ok := scoring.OverrideSigners(&ev); ok {
		t.Fatal("signers parsed from a bad place")
	}
}
