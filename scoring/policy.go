package scoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"regexp"
	"time"
)

// Fact names a per-person anchor time that rules are written against. The
// engine derives facts from events; policies choose which facts give which
// colour, for how long, and what clears them.
type Fact uint8

// The facts a rule may name. Values index Facts.Anchor: append only.
const (
	FactPositivePCR        Fact = iota // sample time of the latest positive PCR
	FactSuspect                        // latest positive antigen test or fever declaration
	FactCloseContact                   // latest close-contact exposure (end of overlap)
	FactSecondaryContact               // latest secondary-contact exposure
	FactCompanion                      // latest companion exposure
	FactAreaHigh                       // end of the latest counted stay overlapping a high-risk designation
	FactAreaMedium                     // end of the latest counted stay overlapping a medium-risk designation
	FactArrivalHigh                    // latest flight arrival from a country designated high at arrival
	FactArrivalMedium                  // latest flight arrival from a country designated medium at arrival
	FactArrivalAbroad                  // latest flight arrival from any country other than China
	FactArrivalUndeclared              // latest flight arrival from abroad that no return-journey declaration covers
	FactArrivalOtherFlight             // landing from abroad of a declared journey on a flight not declared
	FactJourneyDeclared                // a return-journey declaration, until a leg of it lands from abroad
	numFacts
)

var factNames = [numFacts]string{
	"positive_pcr", "suspect", "close_contact", "secondary_contact", "companion",
	"area_high", "area_medium", "arrival_high", "arrival_medium", "arrival_abroad",
	"arrival_undeclared", "arrival_other_flight", "journey_declared",
}

func (f Fact) String() string {
	if f < numFacts {
		return factNames[f]
	}
	return fmt.Sprintf("fact(%d)", f)
}

// MarshalJSON writes the fact's name.
func (f Fact) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }

// UnmarshalJSON reads a fact name.
func (f *Fact) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for i, n := range factNames {
		if n == s {
			*f = Fact(i)
			return nil
		}
	}
	return fmt.Errorf("unknown fact %q", s)
}

// Clear says how a rule ends once it applies.
type Clear string

// The ways a rule can clear.
const (
	ClearTime         Clear = "time"           // when For has passed since the anchor
	ClearTests        Clear = "tests"          // when the Tests condition holds
	ClearTimeAndTests Clear = "time_and_tests" // both
	ClearTimeOrTests  Clear = "time_or_tests"  // either, whichever comes first
)

func (c Clear) needsTime() bool {
	return c == ClearTime || c == ClearTimeAndTests || c == ClearTimeOrTests
}
func (c Clear) needsTests() bool {
	return c == ClearTests || c == ClearTimeAndTests || c == ClearTimeOrTests
}

// Tests is a test condition that clears a rule: NegativePCR negative PCR tests
// (1 or 2) sampled after the anchor, the first at least After after it, and for
// two the second at least the policy's NegativeApart after the first.
type Tests struct {
	NegativePCR int      `json:"negative_pcr"`
	After       Duration `json:"after,omitempty"`
}

// Rule is one row of a policy: while it is active, the person is at least Colour.
type Rule struct {
	ID       string   `json:"id"`
	Colour   string   `json:"colour"`
	Fact     Fact     `json:"fact"`
	From     Duration `json:"from,omitempty"` // the rule starts this long after the anchor (default at once)
	For      Duration `json:"for,omitempty"`  // time part of the clear condition, from the anchor
	Clear    Clear    `json:"clear"`
	Tests    *Tests   `json:"tests,omitempty"`
	TextEN   string   `json:"text_en"`
	TextZH   string   `json:"text_zh"`
	ClearsEN string   `json:"clears_en,omitempty"` // clears_when in words, required where a test is needed
	ClearsZH string   `json:"clears_zh,omitempty"`

	level uint8  // index of Colour in Policy.Colours
	hash  uint32 // of the rule's visible content, so a text change re-issues updates
}

// Level is the severity of the rule's colour.
func (r *Rule) Level() uint8 { return r.level }

// Params are the numbers with which events become facts.
type Params struct {
	FeverCelsius       float64  `json:"fever_celsius"`        // a declaration at or above this is a fever; default 37.3
	NegativeApart      Duration `json:"negative_apart"`       // two negative PCRs must be at least this far apart; default 24h
	CheckinDefaultStay Duration `json:"checkin_default_stay"` // a check-in without left_at lasts this long; default 1h
	TravelDefaultStay  Duration `json:"travel_default_stay"`  // a travel stay without left_at lasts this long; default 24h
	RegionMinStay      Duration `json:"region_min_stay"`      // shorter travel stays do not count for area risk; default 4h
}

// StayEnd is when a check-in (travel false) or travel stay from start ends:
// at left_at when known (left != 0), else CheckinDefaultStay or
// TravelDefaultStay after start.
func (pa *Params) StayEnd(travel bool, start, left Time) Time {
	if left != 0 {
		return left
	}
	if travel {
		return start.Add(pa.TravelDefaultStay.Std())
	}
	return start.Add(pa.CheckinDefaultStay.Std())
}

// CountsForArea reports whether a stay from start to end counts for area
// risk: a check-in always, a travel stay only if it lasts at least
// RegionMinStay (the itinerary-card rule, for a travel record's region and
// cell alike).
func (pa *Params) CountsForArea(travel bool, start, end Time) bool {
	return !travel || end >= start.Add(pa.RegionMinStay.Std())
}

// Contacts are the contact-tracing definitions of docs/policies.md.
type Contacts struct {
	InfectiousBefore Duration `json:"infectious_before"` // infectious from this long before the first positive sample; default 2d
	CloseOverlap     Duration `json:"close_overlap"`     // same venue, stays overlapping at least this long; default 15m
	CloseRows        int      `json:"close_rows"`        // same flight within this many seat rows; default 3
	CompanionOverlap Duration `json:"companion_overlap"` // same H3 cell, overlapping at least this long; default 10m
	CompanionH3Res   int      `json:"companion_h3_res"`  // resolution of the companion cell; default 8
	Lookback         Duration `json:"lookback"`          // how far back presences are kept; default 16d
}

// Journeys says where the province is, for matching return journeys
// (journey.go), and whether a code is issued before a declaration.
type Journeys struct {
	// Province is the GB/T 2260 province prefix (two digits) of the regions
	// in the province. Default "33" (Zhejiang).
	Province string `json:"province"`
	// Ports are the IATA codes of the province's airports: landing there is
	// arriving in the province. Default (with the default province)
	// Zhejiang's: HGH NGB WNZ YIW JUZ HSN HYN.
	Ports []string `json:"ports"`
	// RequireDeclaration: no code is issued before a return-journey
	// declaration ("apply with a declaration"); colour updates of a person
	// without one carry code_status "declaration_required".
	RequireDeclaration bool `json:"require_declaration"`
}

var (
	provinceRE = regexp.MustCompile(`^[1-8][0-9]$`)
	iataRE     = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (jo *Journeys) setDefaultsAndValidate() error {
	if jo.Province == "" {
		jo.Province = "33"
		if len(jo.Ports) == 0 {
			jo.Ports = []string{"HGH", "NGB", "WNZ", "YIW", "JUZ", "HSN", "HYN"}
		}
	}
	if !provinceRE.MatchString(jo.Province) {
		return fmt.Errorf("province %q: want the two-digit GB/T 2260 prefix of a province, like 33", jo.Province)
	}
	if len(jo.Ports) == 0 || len(jo.Ports) > 32 {
		return fmt.Errorf("ports: want 1 to 32 airports of the province")
	}
	for _, p := range jo.Ports {
		if !iataRE.MatchString(p) {
			return fmt.Errorf("port %q: want a three-letter IATA code like HGH", p)
		}
	}
	return nil
}

// Policy is a versioned set of colours and rules, loaded from a policy file.
type Policy struct {
	Name        string   `json:"name"`
	Version     int      `json:"version"`
	Description string   `json:"description,omitempty"`
	Colours     []string `json:"colours"` // ordered by severity: index = level
	Params      Params   `json:"params"`
	Contacts    Contacts `json:"contacts"`
	Rules       []Rule   `json:"rules"`
	Journeys    Journeys `json:"journeys"`
	// Overrides are the rules for official overrides (overrides.go).
	Overrides OverrideRules `json:"overrides"`

	byFact [numFacts][]int // rule indexes per fact
}

// Stamp is the policy's name and version as stamped on decisions: "domestic@1".
func (p *Policy) Stamp() string { return fmt.Sprintf("%s@%d", p.Name, p.Version) }

// ColourLevel returns the level of a colour name.
func (p *Policy) ColourLevel(name string) (uint8, bool) {
	for i, c := range p.Colours {
		if c == name {
			return uint8(i), true
		}
	}
	return 0, false
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
	colourRE = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)
)

// ParsePolicy reads and validates a policy file. Unknown fields are refused so a
// misspelt setting cannot silently fall back to a default.
func ParsePolicy(b []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPolicy, err)
	}
	// One object per file: anything after it (a second policy pasted in, a
	// merge leftover) means the file is not what its author thinks it is.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the policy object", ErrBadPolicy)
	}
	if err := p.setDefaultsAndValidate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadPolicy, p.Name, err)
	}
	return &p, nil
}

func (p *Policy) setDefaultsAndValidate() error {
	if !nameRE.MatchString(p.Name) {
		return fmt.Errorf("name %q: want lowercase letters, digits and hyphens", p.Name)
	}
	if p.Version < 1 {
		return fmt.Errorf("version %d: want 1 or more", p.Version)
	}
	if len(p.Colours) < 2 || len(p.Colours) > 8 {
		return fmt.Errorf("colours: want 2 to 8, have %d", len(p.Colours))
	}
	seen := map[string]bool{}
	for _, c := range p.Colours {
		if !colourRE.MatchString(c) || seen[c] {
			return fmt.Errorf("colour %q: empty, malformed or repeated", c)
		}
		seen[c] = true
	}
	if err := p.Params.setDefaultsAndValidate(); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	if err := p.Contacts.setDefaultsAndValidate(); err != nil {
		return fmt.Errorf("contacts: %w", err)
	}
	if err := p.Journeys.setDefaultsAndValidate(); err != nil {
		return fmt.Errorf("journeys: %w", err)
	}
	if len(p.Rules) == 0 {
		return fmt.Errorf("no rules")
	}
	if err := p.Overrides.setDefaultsAndValidate(p.Colours); err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	ids := map[string]bool{"override": true}
	for i := range p.Rules {
		r := &p.Rules[i]
		if err := p.validateRule(r); err != nil {
			return fmt.Errorf("rule %d (%q): %w", i, r.ID, err)
		}
		if ids[r.ID] {
			return fmt.Errorf("rule %d: id %q repeated or reserved", i, r.ID)
		}
		ids[r.ID] = true
		p.byFact[r.Fact] = append(p.byFact[r.Fact], i)
	}
	return nil
}

func (p *Policy) validateRule(r *Rule) error {
	if !nameRE.MatchString(r.ID) {
		return fmt.Errorf("id: want lowercase letters, digits and hyphens")
	}
	lvl, ok := p.ColourLevel(r.Colour)
	if !ok {
		return fmt.Errorf("colour %q is not one of %v", r.Colour, p.Colours)
	}
	if lvl == 0 {
		return fmt.Errorf("colour %q is the lowest level; a rule must raise the colour", r.Colour)
	}
	r.level = lvl
	if r.Fact >= numFacts {
		return fmt.Errorf("fact: unknown")
	}
	switch r.Clear {
	case ClearTime, ClearTests, ClearTimeAndTests, ClearTimeOrTests:
	default:
		return fmt.Errorf("clear %q: want time, tests, time_and_tests or time_or_tests", r.Clear)
	}
	if r.Clear.needsTime() && r.For <= 0 {
		return fmt.Errorf("clear %q needs a positive \"for\"", r.Clear)
	}
	if !r.Clear.needsTime() && r.For != 0 {
		return fmt.Errorf("\"for\" is set but clear %q ignores time", r.Clear)
	}
	if r.From < 0 || (r.For > 0 && r.From >= r.For) {
		return fmt.Errorf("from %s must be before for %s", r.From, r.For)
	}
	if r.Clear.needsTests() {
		if r.Tests == nil || r.Tests.NegativePCR < 1 || r.Tests.NegativePCR > 2 {
			return fmt.Errorf("clear %q needs tests.negative_pcr of 1 or 2", r.Clear)
		}
		if r.Tests.After < 0 {
			return fmt.Errorf("tests.after is negative")
		}
		if r.ClearsEN == "" || r.ClearsZH == "" {
			return fmt.Errorf("clears_en and clears_zh are required where a test clears the rule")
		}
	} else if r.Tests != nil {
		return fmt.Errorf("tests are set but clear %q ignores them", r.Clear)
	}
	if r.TextEN == "" || r.TextZH == "" {
		return fmt.Errorf("text_en and text_zh are required")
	}
	h := fnv.New32a()
	for _, s := range []string{r.ID, r.Colour, r.TextEN, r.TextZH, r.ClearsEN, r.ClearsZH} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	r.hash = h.Sum32()
	return nil
}

func defaultDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func (pa *Params) setDefaultsAndValidate() error {
	if pa.FeverCelsius == 0 {
		pa.FeverCelsius = 37.3
	}
	defaultDuration(&pa.NegativeApart, 24*time.Hour)
	defaultDuration(&pa.CheckinDefaultStay, time.Hour)
	defaultDuration(&pa.TravelDefaultStay, 24*time.Hour)
	defaultDuration(&pa.RegionMinStay, 4*time.Hour)
	switch {
	case pa.FeverCelsius < 36 || pa.FeverCelsius > 42:
		return fmt.Errorf("fever_celsius %.1f: want 36 to 42", pa.FeverCelsius)
	case pa.NegativeApart < 0, pa.CheckinDefaultStay < 0, pa.TravelDefaultStay < 0, pa.RegionMinStay < 0:
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}

func (c *Contacts) setDefaultsAndValidate() error {
	defaultDuration(&c.InfectiousBefore, 48*time.Hour)
	defaultDuration(&c.CloseOverlap, 15*time.Minute)
	defaultDuration(&c.CompanionOverlap, 10*time.Minute)
	defaultDuration(&c.Lookback, 16*24*time.Hour)
	if c.CloseRows == 0 {
		c.CloseRows = 3
	}
	if c.CompanionH3Res == 0 {
		c.CompanionH3Res = 8
	}
	switch {
	case c.CloseRows < 0 || c.CloseRows > 50:
		return fmt.Errorf("close_rows %d: want 0 to 50", c.CloseRows)
	case c.CompanionH3Res < 0 || c.CompanionH3Res > 15:
		return fmt.Errorf("companion_h3_res %d: want 0 to 15", c.CompanionH3Res)
	case c.Lookback < c.InfectiousBefore:
		return fmt.Errorf("lookback %s shorter than infectious_before %s", c.Lookback, c.InfectiousBefore)
	}
	return nil
}
