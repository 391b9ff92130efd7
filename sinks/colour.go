package sinks

import (
	"time"

	"healthcode/scoring"
)

// ColourUpdate is a message on hc.colour-updates, exactly as docs/contract.md gives it.
// Fields are only ever added, and only as optional ones. Times are RFC 3339 with
// an offset (+08:00 by default).
type ColourUpdate struct {
	PersonKey   string   `json:"person_key"`
	Colour      string   `json:"colour"`
	Previous    string   `json:"previous,omitempty"` // absent on a person's first update
	Level       int      `json:"level"`
	Version     uint64   `json:"version"`
	Policy      string   `json:"policy"` // "name@version"
	EffectiveAt string   `json:"effective_at"`
	ReviewAt    string   `json:"review_at,omitempty"` // absent when nothing is pending
	Reasons     []Reason `json:"reasons"`
	// CodeStatus is absent when a code is issued; CodeStatusDeclarationRequired
	// when the policy issues no code before a return-journey declaration and
	// the person has none: show that, not the colour (an optional addition).
	CodeStatus string `json:"code_status,omitempty"`
}

// CodeStatusDeclarationRequired is ColourUpdate.CodeStatus for a person who
// must apply with a return-journey declaration before a code is issued.
const CodeStatusDeclarationRequired = "declaration_required"

// Reason is one active rule behind a colour.
type Reason struct {
	Rule         string   `json:"rule"`
	TextEN       string   `json:"text_en"`
	TextZH       string   `json:"text_zh"`
	Evidence     []string `json:"evidence"`
	Until        string   `json:"until,omitempty"`
	ClearsWhen   string   `json:"clears_when,omitempty"`
	ClearsWhenZH string   `json:"clears_when_zh,omitempty"` // optional addition: clears_when in Chinese
}

// China Standard Time: no daylight saving since 1991, so a fixed zone is exact
// and needs no time-zone database.
var chinaTime = time.FixedZone("CST", 8*3600)

// DefaultZone is the zone in which update times are written (+08:00).
func DefaultZone() *time.Location { return chinaTime }

// NewColourUpdate renders a scoring update as the contract's JSON shape. loc
// is the zone of the written times (nil: +08:00).
func NewColourUpdate(p *scoring.Policy, u *scoring.Update, loc *time.Location) ColourUpdate {
	if loc == nil {
		loc = chinaTime
	}
	cu := ColourUpdate{
		PersonKey:   u.Person.String(),
		Colour:      p.Colours[u.Level],
		Level:       int(u.Level),
		Version:     uint64(u.Version),
		Policy:      p.Stamp(),
		EffectiveAt: u.Effective.Format(loc),
		ReviewAt:    u.Review.Format(loc),
		Reasons:     make([]Reason, len(u.Reasons)),
	}
	if u.DeclarationRequired {
		cu.CodeStatus = CodeStatusDeclarationRequired
	}
	if u.Previous >= 0 && u.Previous < len(p.Colours) {
		cu.Previous = p.Colours[u.Previous]
	}
	for i := range u.Reasons {
		r := &u.Reasons[i]
		out := Reason{Rule: r.RuleID(), Evidence: r.Evidence, Until: r.Until.Format(loc)}
		if out.Evidence == nil {
			out.Evidence = []string{}
		}
		if r.Rule != nil {
			out.TextEN, out.TextZH = r.Rule.TextEN, r.Rule.TextZH
			out.ClearsWhen, out.ClearsWhenZH = r.Rule.ClearsEN, r.Rule.ClearsZH
		} else {
			// An official override: the officer's reason, in both. One that
			// sets the lowest colour is a correction, and says so first.
			out.TextEN, out.TextZH = r.Text, r.Text
			if u.Level == 0 {
				out.TextEN = p.Overrides.CorrectionEN + " " + r.Text
				out.TextZH = p.Overrides.CorrectionZH + r.Text
			}
		}
		cu.Reasons[i] = out
	}
	return cu
}
