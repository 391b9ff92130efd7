package scoring_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

// Hangzhou, West Lake district: a venue cell at resolution 15 and its parents.
var (
	venueCell = uint64(h3.LatLngToCell(h3.NewLatLng(30.2741, 120.1551), 15))
	venueRes8 = uint64(h3.Cell(venueCell).Parent(8))
	venueRes7 = uint64(h3.Cell(venueCell).Parent(7))
	// A cell 20 km away, outside both parents.
	farCell = uint64(h3.LatLngToCell(h3.NewLatLng(30.45, 120.30), 15))
)

// noReview in a ruleCase asserts that review_at is absent.
const noReview = scoring.MaxTime

const (
	high   = scoring.RiskHigh
	medium = scoring.RiskMedium
	low    = scoring.RiskLow
	pos    = scoring.ResultPositive
	neg    = scoring.ResultNegative
)

// ruleCase is one scenario: inputs for alice applied in order with an event
// clock, then the clock moved to now; alice's last update must show colour and
// rules (in policy order). until lists each reason's until (nil: not checked),
// review the update's review_at (0: not checked, noReview: absent), evidence each reason's evidence
// (nil: not checked), text the override's reason text.
type ruleCase struct {
	name     string
	policy   string // default "domestic"
	steps    []step
	now      scoring.Time
	colour   string
	rules    []string
	until    []scoring.Time
	review   scoring.Time
	evidence [][]string
	text     string
}

func runRuleCase(t *testing.T, c ruleCase) {
	t.Helper()
	if c.policy == "" {
		c.policy = "domestic"
	}
	r := newRunner(t, c.policy)
	for _, s := range c.steps {
		r.step(s)
	}
	r.advance(c.now)
	p := r.eng.Policy()
	u, ok := r.last(alice)
	if !ok {
		t.Fatalf("no update for alice")
	}
	checkConsistent(t, p, r.of(alice))
	if got := p.Colours[u.Level]; got != c.colour {
		t.Errorf("colour %s, want %s (reasons %v)", got, c.colour, ruleIDs(u.Reasons))
	}
	if got := ruleIDs(u.Reasons); !slices.Equal(got, c.rules) {
		t.Errorf("rules %v, want %v", got, c.rules)
	}
	if wantReview := c.review; wantReview != 0 && u.Review != wantReview%scoring.MaxTime {
		t.Errorf("review_at %s, want %s", fmtTime(u.Review), fmtTime(wantReview%scoring.MaxTime))
	}
	if c.until != nil {
		var got []scoring.Time
		for _, rs := range u.Reasons {
			got = append(got, rs.Until)
		}
		if !slices.Equal(got, c.until) {
			t.Errorf("until %v, want %v", got, c.until)
		}
	}
	if c.evidence != nil {
		var got [][]string
		for _, rs := range u.Reasons {
			got = append(got, rs.Evidence)
		}
		// An evidence of "exp-" stands for the exposure the tracer found.
		for i := range got {
			for j := range got[i] {
				if i < len(c.evidence) && j < len(c.evidence[i]) && c.evidence[i][j] == "exp-" && strings.HasPrefix(got[i][j], "exp-") {
					got[i][j] = "exp-"
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.evidence) {
			t.Errorf("evidence %v, want %v", got, c.evidence)
		}
	}
	if c.text != "" {
		if len(u.Reasons) == 0 || u.Reasons[0].Text != c.text {
			t.Errorf("reason text %v, want %q", u.Reasons, c.text)
		}
	}
	// The update stream (timers included) must agree with a direct decision at now.
	d, _, ok := r.eng.Decide(alice, c.now)
	if !ok {
		t.Fatalf("Decide: alice unknown")
	}
	if d.Level != u.Level || d.Review != u.Review || len(d.Top) != len(u.Reasons) {
		t.Errorf("Decide at now gives level %d review %s and %d reasons; the last update level %d review %s and %d reasons",
			d.Level, fmtTime(d.Review), len(d.Top), u.Level, fmtTime(u.Review), len(u.Reasons))
	}
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runRuleCase(t, c) })
	}
}

func TestRules_Confirmed(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "positive PCR is red", steps: []step{posPCR("p1", t0)}, now: t0, review: noReview,
			colour: "red", rules: []string{"confirmed"}, until: []scoring.Time{at("14d")}, evidence: [][]string{{"p1"}}},
		{name: "day 14 minus 1s with both negatives", now: at("14d", "-1s"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", at("2d")), negPCR("n2", at("3d"))},
			colour: "red", rules: []string{"confirmed"}, review: at("14d")},
		{name: "day 14 with one negative", now: at("14d"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", at("12d"))},
			colour: "red", rules: []string{"confirmed"}, until: []scoring.Time{at("14d")}, review: noReview},
		{name: "two negatives exactly 24h apart: green at day 14", now: at("14d"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", at("12d")), negPCR("n2", at("13d"))},
			colour: "green"},
		{name: "two negatives 23h59m59s apart", now: at("14d"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", at("12d")), negPCR("n2", at("12d", "23h59m59s"))},
			colour: "red", rules: []string{"confirmed"}},
		{name: "negatives sampled before the positive do not count", now: at("14d"),
			steps:  []step{negPCR("n1", at("-3d")), negPCR("n2", at("-2d")), posPCR("p1", t0)},
			colour: "red", rules: []string{"confirmed"}},
		{name: "negatives before the positive arriving after it do not count", now: at("14d"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", at("-1d", "-1s")), negPCR("n2", at("-1s"))},
			colour: "red", rules: []string{"confirmed"}},
		{name: "a negative at the positive's sample time is not after it", now: at("14d"),
			steps:  []step{posPCR("p1", t0), negPCR("n1", t0), negPCR("n2", at("1d"))},
			colour: "red", rules: []string{"confirmed"}},
		{name: "one before, one after the positive do not pair", now: at("14d"),
			steps:  []step{negPCR("n1", at("-1h")), posPCR("p1", t0), negPCR("n2", at("23h"))},
			colour: "red", rules: []string{"confirmed"}},
		{name: "second positive restarts the 14 days", now: at("14d"),
			steps: []step{posPCR("p1", t0), negPCR("n1", at("2d")), negPCR("n2", at("3d")),
				posPCR("p2", at("5d"))},
			colour: "red", rules: []string{"confirmed"}, until: []scoring.Time{at("19d")}, evidence: [][]string{{"p2"}}},
		{name: "second positive then two negatives: red until its day 14", now: at("19d", "-1s"),
			steps: []step{posPCR("p1", t0), posPCR("p2", at("5d")),
				negPCR("n1", at("6d")), negPCR("n2", at("7d"))},
			colour: "red", rules: []string{"confirmed"}, review: at("19d")},
		{name: "second positive then two negatives: green at its day 14", now: at("19d"),
			steps: []step{posPCR("p1", t0), posPCR("p2", at("5d")),
				negPCR("n1", at("6d")), negPCR("n2", at("7d"))},
			colour: "green"},
		{name: "inconclusive PCR counts for nothing", now: at("1h"),
			steps:  []step{pcr("i1", t0, scoring.ResultInconclusive)},
			colour: "green"},
	})
}

func TestRules_Suspected(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "positive antigen", steps: []step{antigen("a1", t0, pos)}, now: at("30d"),
			colour: "red", rules: []string{"suspected"}, until: []scoring.Time{0}, review: noReview, evidence: [][]string{{"a1"}}},
		{name: "negative antigen", steps: []step{antigen("a1", t0, neg)}, now: t0, colour: "green"},
		{name: "declared fever", steps: []step{declaration("d1", t0, scoring.SymptomFever, 0)}, now: t0,
			colour: "red", rules: []string{"suspected"}},
		{name: "declared cough only", steps: []step{declaration("d1", t0, scoring.SymptomCough, 366)}, now: t0,
			colour: "green"},
		{name: "temperature 37.3", steps: []step{declaration("d1", t0, 0, 373)}, now: t0,
			colour: "red", rules: []string{"suspected"}},
		{name: "temperature 37.2", steps: []step{declaration("d1", t0, 0, 372)}, now: t0,
			colour: "green"},
		{name: "negative PCR sampled after clears", now: at("1s"),
			steps:  []step{antigen("a1", t0, pos), negPCR("n1", at("1s"))},
			colour: "green"},
		{name: "negative PCR sampled at the same instant does not clear", now: at("1h"),
			steps:  []step{antigen("a1", t0, pos), negPCR("n1", t0)},
			colour: "red", rules: []string{"suspected"}},
		{name: "negative PCR sampled before, reported after, does not clear", now: at("1h"),
			steps:  []step{antigen("a1", t0, pos), negPCR("n1", at("-1h"))},
			colour: "red", rules: []string{"suspected"}, review: noReview},
		{name: "a fever after the negative makes red again", now: at("2d"),
			steps: []step{antigen("a1", t0, pos), negPCR("n1", at("1d")),
				declaration("d2", at("2d"), 0, 385)},
			colour: "red", rules: []string{"suspected"}, evidence: [][]string{{"d2"}}},
	})
}

func TestRules_CloseContact(t *testing.T) {
	exp := exposure("x1", scoring.ExposureClose, t0)
	runRuleCases(t, []ruleCase{
		{name: "exposure", steps: []step{exp}, now: t0,
			colour: "red", rules: []string{"close-contact"}, until: []scoring.Time{at("14d")}, review: noReview,
			evidence: [][]string{{"x1"}}},
		{name: "day 14 without a test", steps: []step{exp}, now: at("14d"),
			colour: "red", rules: []string{"close-contact"}, review: noReview},
		{name: "negative at day 11d23h59m59s: red at day 14", now: at("14d"),
			steps:  []step{exp, negPCR("n1", at("11d23h59m59s"))},
			colour: "red", rules: []string{"close-contact"}},
		{name: "negative at day 11d23h59m: red at day 14", now: at("14d"),
			steps:  []step{exp, negPCR("n1", at("11d23h59m"))},
			colour: "red", rules: []string{"close-contact"}},
		{name: "negative at exactly day 12: green at exactly day 14", now: at("14d"),
			steps:  []step{exp, negPCR("n1", at("12d"))},
			colour: "green"},
		{name: "day 14 minus 1s with the test", now: at("14d", "-1s"),
			steps:  []step{exp, negPCR("n1", at("12d"))},
			colour: "red", rules: []string{"close-contact"}, review: at("14d")},
		{name: "a later exposure restarts", now: at("14d"),
			steps:  []step{exp, negPCR("n1", at("12d")), exposure("x2", scoring.ExposureClose, at("3d"))},
			colour: "red", rules: []string{"close-contact"}, until: []scoring.Time{at("17d")}, evidence: [][]string{{"x2"}}},
	})
}

func TestRules_ArrivalHighRisk(t *testing.T) {
	deu := country("r-deu", "DEU", high, at("-10d"), 0)
	arr := arrival("f1", t0, "DEU")
	runRuleCases(t, []ruleCase{
		{name: "arrival from a high country", steps: []step{deu, arr}, now: t0,
			colour: "red", rules: []string{"arrival-high-risk"}, until: []scoring.Time{at("14d")},
			review: at("14d"), evidence: [][]string{{"f1", "r-deu"}}},
		{name: "red until day 14 minus 1s", steps: []step{deu, arr}, now: at("14d", "-1s"),
			colour: "red", rules: []string{"arrival-high-risk"}, review: at("14d")},
		{name: "post-quarantine from day 14", steps: []step{deu, arr}, now: at("14d"),
			colour: "yellow", rules: []string{"post-quarantine"}, until: []scoring.Time{at("21d")}, review: at("21d"),
			evidence: [][]string{{"f1", "r-deu"}}},
		{name: "post-quarantine until day 21 minus 1s", steps: []step{deu, arr}, now: at("21d", "-1s"),
			colour: "yellow", rules: []string{"post-quarantine"}, review: at("21d")},
		{name: "green at day 21", steps: []step{deu, arr}, now: at("21d"), colour: "green"},
		{name: "designation starting after the arrival", now: at("1d"),
			steps:  []step{arr, country("r-deu", "DEU", high, at("1s"), 0)},
			colour: "green"},
		{name: "designation starting at the arrival instant", now: t0,
			steps:  []step{country("r-deu", "DEU", high, t0, 0), arr},
			colour: "red", rules: []string{"arrival-high-risk"}},
		{name: "designation ended at the arrival instant", now: t0,
			steps:  []step{country("r-deu", "DEU", high, at("-10d"), t0), arr},
			colour: "green"},
		{name: "designation arriving later, effective before: retroactive", steps: []step{arr, deu}, now: t0,
			colour: "red", rules: []string{"arrival-high-risk"}, until: []scoring.Time{at("14d")}, review: at("14d")},
		{name: "retroactive designation after days", now: at("3d"),
			steps:  []step{arr, exposure("x0", scoring.ExposureSecondary, at("3d")), deu},
			colour: "red", rules: []string{"arrival-high-risk"}, until: []scoring.Time{at("14d")}, review: at("10d")},
		{name: "later low designation from before the arrival replaces it", now: t0,
			steps:  []step{deu, arr, country("r-deu-low", "DEU", low, at("-1d"), 0)},
			colour: "green"},
		{name: "later low designation from after the arrival does not", now: at("1d"),
			steps:  []step{deu, arr, country("r-deu-low", "DEU", low, at("1h"), 0)},
			colour: "red", rules: []string{"arrival-high-risk"}},
		{name: "arrival from CHN", now: t0,
			steps:  []step{country("r-chn", "CHN", high, at("-10d"), 0), arrival("f1", t0, "CHN")},
			colour: "green"},
		{name: "arrival from an undesignated country", now: t0,
			steps:  []step{deu, arrival("f1", t0, "FRA")},
			colour: "green"},
	})
}

func TestRules_SecondaryContact(t *testing.T) {
	exp := exposure("s1", scoring.ExposureSecondary, t0)
	runRuleCases(t, []ruleCase{
		{name: "exposure", steps: []step{exp}, now: t0,
			colour: "yellow", rules: []string{"secondary-contact"}, until: []scoring.Time{at("7d")}, review: at("7d")},
		{name: "day 7 minus 1s", steps: []step{exp}, now: at("7d", "-1s"),
			colour: "yellow", rules: []string{"secondary-contact"}, review: at("7d")},
		{name: "green at day 7", steps: []step{exp}, now: at("7d"), colour: "green"},
		{name: "negatives do not clear it", now: at("3d"),
			steps:  []step{exp, negPCR("n1", at("1d")), negPCR("n2", at("2d"))},
			colour: "yellow", rules: []string{"secondary-contact"}},
	})
}

func TestRules_Companion(t *testing.T) {
	exp := exposure("c1", scoring.ExposureCompanion, t0)
	runRuleCases(t, []ruleCase{
		{name: "exposure", steps: []step{exp}, now: t0,
			colour: "yellow", rules: []string{"companion"}, until: []scoring.Time{at("14d")}, review: at("14d")},
		{name: "day 14 minus 1s", steps: []step{exp}, now: at("14d", "-1s"),
			colour: "yellow", rules: []string{"companion"}, review: at("14d")},
		{name: "green at day 14", steps: []step{exp}, now: at("14d"), colour: "green"},
		{name: "two negatives 24h apart clear it early", now: at("2d"),
			steps:  []step{exp, negPCR("n1", at("1d")), negPCR("n2", at("2d"))},
			colour: "green"},
		{name: "two negatives 23h apart do not", now: at("2d"),
			steps:  []step{exp, negPCR("n1", at("1d")), negPCR("n2", at("1d", "23h"))},
			colour: "yellow", rules: []string{"companion"}, review: at("14d")},
		{name: "one negative does not", now: at("2d"),
			steps:  []step{exp, negPCR("n1", at("1d"))},
			colour: "yellow", rules: []string{"companion"}},
	})
}

func TestRules_RiskArea(t *testing.T) {
	hz := region("r-hz", "330102", high, at("-5d"), 0)
	runRuleCases(t, []ruleCase{
		{name: "travel stay of exactly 4h", now: at("4h"),
			steps:  []step{hz, travel("t1", t0, at("4h"), "330102", 0)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("4h", "14d")}, review: at("4h", "14d"),
			evidence: [][]string{{"exp-"}}},
		{name: "14 days after the stay ends minus 1s", now: at("4h", "14d", "-1s"),
			steps:  []step{hz, travel("t1", t0, at("4h"), "330102", 0)},
			colour: "yellow", rules: []string{"risk-area"}, review: at("4h", "14d")},
		{name: "green 14 days after the stay ends", now: at("4h", "14d"),
			steps:  []step{hz, travel("t1", t0, at("4h"), "330102", 0)},
			colour: "green"},
		{name: "travel stay of 3h59m59s does not count", now: at("4h"),
			steps:  []step{hz, travel("t1", t0, at("3h59m59s"), "330102", 0)},
			colour: "green"},
		{name: "travel stay of 3h59m does not count", now: at("4h"),
			steps:  []step{hz, travel("t1", t0, at("3h59m"), "330102", 0)},
			colour: "green"},
		{name: "travel stay without left_at lasts 24h", now: at("1d"),
			steps:  []step{hz, travel("t1", t0, 0, "330102", 0)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("1d", "14d")}},
		{name: "other region", now: at("1d"),
			steps:  []step{hz, travel("t1", t0, at("5h"), "330103", 0)},
			colour: "green"},
		{name: "stay before the designation", now: at("1d"),
			steps:  []step{region("r-hz", "330102", high, at("5h"), 0), travel("t1", t0, at("5h"), "330102", 0)},
			colour: "green"},
		{name: "stay overlapping the designation's start by 1s", now: at("1d"),
			steps:  []step{region("r-hz", "330102", high, at("5h", "-1s"), 0), travel("t1", t0, at("5h"), "330102", 0)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("5h", "14d")}},
		{name: "stay after the designation ended", now: at("1d"),
			steps:  []step{region("r-hz", "330102", high, at("-5d"), t0), travel("t1", t0, at("5h"), "330102", 0)},
			colour: "green"},
		{name: "medium: 7 days", now: at("4h"),
			steps: []step{region("r-hz", "330102", medium, at("-5d"), 0),
				travel("t1", t0, at("4h"), "330102", 0)},
			colour: "yellow", rules: []string{"risk-area-medium"}, until: []scoring.Time{at("4h", "7d")}, review: at("4h", "7d")},
		{name: "medium: green after 7 days", now: at("4h", "7d"),
			steps: []step{region("r-hz", "330102", medium, at("-5d"), 0),
				travel("t1", t0, at("4h"), "330102", 0)},
			colour: "green"},
		{name: "check-in under a resolution 8 designation", now: at("1h"),
			steps: []step{designate("r-h8", scoring.AreaH3, "", venueRes8, high, at("-1d"), 0),
				checkin("v1", t0, at("30m"), venueCell)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("30m", "14d")}},
		{name: "check-in without left_at lasts 1h", now: at("1h"),
			steps: []step{designate("r-h7", scoring.AreaH3, "", venueRes7, high, at("-1d"), 0),
				checkin("v1", t0, 0, venueCell)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("1h", "14d")}},
		{name: "short check-ins count (the 4h rule is for travel)", now: at("1h"),
			steps: []step{designate("r-h7", scoring.AreaH3, "", venueRes7, high, at("-1d"), 0),
				checkin("v1", t0, at("5m"), venueCell)},
			colour: "yellow", rules: []string{"risk-area"}},
		{name: "check-in outside the designated cell", now: at("1h"),
			steps: []step{designate("r-h7", scoring.AreaH3, "", venueRes7, high, at("-1d"), 0),
				checkin("v1", t0, at("30m"), farCell)},
			colour: "green"},
		{name: "travel with a location in a designated cell", now: at("5h"),
			steps: []step{designate("r-h8", scoring.AreaH3, "", venueRes8, medium, at("-1d"), 0),
				travel("t1", t0, at("5h"), "330199", venueCell)},
			colour: "yellow", rules: []string{"risk-area-medium"}, until: []scoring.Time{at("5h", "7d")}},
		{name: "two negatives after the stay clear it early", now: at("3d"),
			steps: []step{hz, travel("t1", t0, at("4h"), "330102", 0),
				negPCR("n1", at("1d")), negPCR("n2", at("2d"))},
			colour: "green"},
		{name: "negatives during the stay do not count", now: at("3d"),
			steps: []step{hz, travel("t1", t0, at("1d", "1h"), "330102", 0),
				negPCR("n1", at("1h")), negPCR("n2", at("1d", "1h"))},
			colour: "yellow", rules: []string{"risk-area"}},
		{name: "area-high exposure event", now: t0,
			steps:  []step{exposure("a1", scoring.ExposureAreaHigh, t0)},
			colour: "yellow", rules: []string{"risk-area"}, until: []scoring.Time{at("14d")}, review: at("14d"),
			evidence: [][]string{{"a1"}}},
		{name: "area-medium exposure event", now: t0,
			steps:  []step{exposure("a1", scoring.ExposureAreaMedium, t0)},
			colour: "yellow", rules: []string{"risk-area-medium"}, until: []scoring.Time{at("7d")}},
	})
}

func TestRules_ArrivalMediumRisk(t *testing.T) {
	deu := country("r-deu", "DEU", medium, at("-10d"), 0)
	arr := arrival("f1", t0, "DEU")
	runRuleCases(t, []ruleCase{
		{name: "arrival from a medium country", steps: []step{deu, arr}, now: t0,
			colour: "yellow", rules: []string{"arrival-medium-risk"}, until: []scoring.Time{at("14d")}, review: at("14d"),
			evidence: [][]string{{"f1", "r-deu"}}},
		{name: "day 14 minus 1s", steps: []step{deu, arr}, now: at("14d", "-1s"),
			colour: "yellow", rules: []string{"arrival-medium-risk"}, review: at("14d")},
		{name: "green at day 14", steps: []step{deu, arr}, now: at("14d"), colour: "green"},
		{name: "retroactive", steps: []step{arr, deu}, now: t0,
			colour: "yellow", rules: []string{"arrival-medium-risk"}},
	})
}

func TestRules_Override(t *testing.T) {
	const why = "appeal upheld: test result belonged to another person"
	red := []step{posPCR("p1", t0), override("o1", at("1d"), at("3d"), 0, why)}
	runRuleCases(t, []ruleCase{
		{name: "red person overridden to green", steps: red, now: at("1d"),
			colour: "green", rules: []string{"override"}, until: []scoring.Time{at("3d")}, review: at("3d"),
			evidence: [][]string{{"o1"}}, text: why},
		{name: "until minus 1s", steps: red, now: at("3d", "-1s"),
			colour: "green", rules: []string{"override"}, review: at("3d"), text: why},
		{name: "rules resume at until", steps: red, now: at("3d"),
			colour: "red", rules: []string{"confirmed"}, until: []scoring.Time{at("14d")}, review: noReview},
		{name: "green person overridden to red", now: at("1h"),
			steps:  []step{override("o1", t0, at("2d"), 2, "isolated on site")},
			colour: "red", rules: []string{"override"}, review: at("2d"), text: "isolated on site"},
		{name: "override to yellow hides a red rule and a yellow rule", now: at("2h"),
			steps: []step{exposure("x1", scoring.ExposureClose, t0), exposure("c1", scoring.ExposureCompanion, t0),
				override("o1", at("1h"), at("5d"), 1, "reviewed")},
			colour: "yellow", rules: []string{"override"}, review: at("5d")},
		{name: "a later override replaces an earlier one", now: at("2d"),
			steps: []step{posPCR("p1", t0), override("o1", at("1d"), at("10d"), 0, "first"),
				override("o2", at("2d"), at("3d"), 1, "second")},
			colour: "yellow", rules: []string{"override"}, text: "second", review: at("3d")},
		{name: "an expired override does nothing", now: at("3d"),
			steps:  []step{posPCR("p1", t0), override("o1", at("1d"), at("2d"), 0, why)},
			colour: "red", rules: []string{"confirmed"}},
	})
}

func TestRules_ColourIsHighestLevel(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "every active rule at the top level is a reason", now: at("2d"),
			steps: []step{exposure("x1", scoring.ExposureClose, t0), antigen("a1", at("1d"), pos),
				exposure("c1", scoring.ExposureCompanion, at("2d"))},
			colour: "red", rules: []string{"suspected", "close-contact"},
			until: []scoring.Time{0, at("14d")}, evidence: [][]string{{"a1"}, {"x1"}},
			// companion (yellow) can end by the clock at day 16, close-contact
			// cannot (no test): the review is the companion's.
			review: at("2d", "14d")},
		{name: "lower rules still set the review", now: at("1d"),
			steps:  []step{antigen("a1", t0, pos), exposure("s1", scoring.ExposureSecondary, at("1d"))},
			colour: "red", rules: []string{"suspected"}, review: at("8d")},
		{name: "the review moves on once the lower rule ends", now: at("8d"),
			steps:  []step{antigen("a1", t0, pos), exposure("s1", scoring.ExposureSecondary, at("1d"))},
			colour: "red", rules: []string{"suspected"}, review: noReview},
		{name: "two yellow rules: the earliest end is the review", now: at("1d"),
			steps:  []step{exposure("c1", scoring.ExposureCompanion, t0), exposure("s1", scoring.ExposureSecondary, at("1d"))},
			colour: "yellow", rules: []string{"secondary-contact", "companion"},
			until: []scoring.Time{at("8d"), at("14d")}, review: at("8d")},
		{name: "after the first yellow rule ends, the other remains", now: at("8d"),
			steps:  []step{exposure("c1", scoring.ExposureCompanion, t0), exposure("s1", scoring.ExposureSecondary, at("1d"))},
			colour: "yellow", rules: []string{"companion"}, review: at("14d")},
		{name: "red ends, yellow shows", now: at("14d"),
			steps: []step{exposure("x1", scoring.ExposureClose, t0), negPCR("n1", at("12d")),
				exposure("c1", scoring.ExposureCompanion, at("5d"))},
			colour: "yellow", rules: []string{"companion"}, review: at("19d")},
		{name: "time_and_tests with the test passed sets the review", now: at("13d"),
			steps:  []step{exposure("x1", scoring.ExposureClose, t0), negPCR("n1", at("12d"))},
			colour: "red", rules: []string{"close-contact"}, review: at("14d")},
		{name: "post-quarantine is pending while red: the review is day 14", now: at("1d"),
			steps: []step{country("r-deu", "DEU", high, at("-10d"), 0), arrival("f1", t0, "DEU"),
				exposure("x1", scoring.ExposureClose, at("1d"))},
			colour: "red", rules: []string{"close-contact", "arrival-high-risk"}, review: at("14d")},
	})
}

func TestRules_International(t *testing.T) {
	deu := country("r-deu", "DEU", high, at("-10d"), 0)
	// International issues its code to declared returnees: the journey of
	// the arrival helper's flight, declared five days ahead.
	declared := declareJourney("j1", at("-5d"), "CA936/2020-03-01")
	runRuleCases(t, []ruleCase{
		{name: "arrival from abroad", policy: "international", now: t0,
			steps:  []step{declared, arrival("f1", t0, "USA")},
			colour: "yellow", rules: []string{"arrival-abroad"}, until: []scoring.Time{at("14d")}, review: at("14d")},
		{name: "arrival from abroad, day 14", policy: "international", now: at("14d"),
			steps:  []step{declared, arrival("f1", t0, "USA")},
			colour: "green"},
		{name: "arrival from a high country is orange", policy: "international", now: t0,
			steps:  []step{deu, declared, arrival("f1", t0, "DEU")},
			colour: "orange", rules: []string{"arrival-high-risk"}, until: []scoring.Time{at("14d")}, review: at("14d")},
		{name: "then yellow from day 14", policy: "international", now: at("14d"),
			steps:  []step{deu, declared, arrival("f1", t0, "DEU")},
			colour: "yellow", rules: []string{"post-quarantine"}, review: at("21d")},
		{name: "confirmed is orange", policy: "international", now: t0,
			steps:  []step{posPCR("p1", t0)},
			colour: "orange", rules: []string{"confirmed"}},
		{name: "domestic arrival gives nothing", policy: "international", now: t0,
			steps:  []step{arrival("f1", t0, "CHN")},
			colour: "green"},
	})
}

func TestRules_Tianjin(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "companion is orange", policy: "tianjin", now: t0,
			steps:  []step{exposure("c1", scoring.ExposureCompanion, t0)},
			colour: "orange", rules: []string{"companion"}, review: at("14d")},
		{name: "secondary contact is orange", policy: "tianjin", now: t0,
			steps:  []step{exposure("s1", scoring.ExposureSecondary, t0)},
			colour: "orange", rules: []string{"secondary-contact"}},
		{name: "post-quarantine is orange", policy: "tianjin", now: at("15d"),
			steps:  []step{country("r-deu", "DEU", high, at("-10d"), 0), arrival("f1", t0, "DEU")},
			colour: "orange", rules: []string{"post-quarantine"}},
		{name: "close contact stays red", policy: "tianjin", now: t0,
			steps:  []step{exposure("x1", scoring.ExposureClose, t0)},
			colour: "red", rules: []string{"close-contact"}},
		{name: "arrival from abroad gives nothing", policy: "tianjin", now: t0,
			steps:  []step{arrival("f1", t0, "USA")},
			colour: "green"},
	})
}
