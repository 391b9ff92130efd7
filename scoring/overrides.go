package scoring

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"time"
)

// Override is one official override as the override guard sees it: the
// person event it becomes once accepted, and what the guard judges it by.
// Officer and Approver are pseudonyms keyed like persons (id_type "officer");
// no name reaches it.
type Override struct {
	ID         string // upstream event_id
	Source     string
	Person     PersonKey
	Level      uint8 // the colour asked for
	At         Time  // occurred_at: when it was decided
	Until      Time
	Reason     string    // shown to the citizen
	ReasonCode string    // one of the policy's reason codes, or ""
	Region     string    // GB/T 2260 code of the deciding office, or ""
	Officer    PersonKey // pseudonym of the officer
	Approver   PersonKey // pseudonym of the approver
	Confirms   string    // event_id of a held override this one confirms, or ""
}

// Event returns the person event of an accepted override. Place carries the
// officer's and the approver's pseudonyms ("<officer hex>/<approver hex>"),
// so the scoring stage can audit what it applied.
func (o *Override) Event() Event {
	return Event{Person: o.Person, Kind: KindOverride, Level: o.Level, At: o.At, End: o.Until,
		Text: o.Reason, ID: o.ID, Source: o.Source, Place: o.Officer.String() + "/" + o.Approver.String()}
}

// OverrideSigners parses the Place of an override event back into the
// officer's and the approver's pseudonyms; ok is false if it holds none.
func OverrideSigners(ev *Event) (officer, approver PersonKey, ok bool) {
	if ev.Kind != KindOverride || len(ev.Place) != 65 || ev.Place[32] != '/' {
		return officer, approver, false
	}
	if _, err := hex.Decode(officer[:], []byte(ev.Place[:32])); err != nil {
		return officer, approver, false
	}
	if _, err := hex.Decode(approver[:], []byte(ev.Place[33:])); err != nil {
		return officer, approver, false
	}
	return officer, approver, true
}

// OverrideAllow says when an override may set a colour.
type OverrideAllow string

// The ways an override may be allowed to set a colour.
const (
	AllowAny        OverrideAllow = "any"         // always
	AllowReasonCode OverrideAllow = "reason_code" // only with one of the policy's reason codes
	AllowNever      OverrideAllow = "never"       // never
)

// AlertScope is what an override alert counts by.
type AlertScope string

// Alert scopes.
const (
	ScopeOfficer AlertScope = "officer" // per officer
	ScopePair    AlertScope = "pair"    // per officer and approver
	ScopeColour  AlertScope = "colour"  // per target colour, across officers
	ScopeRegion  AlertScope = "region"  // per region of the deciding office, across officers
)

// RateLimit refuses an officer's override when Max of theirs already fall in
// the Window before it.
type RateLimit struct {
	Max    int      `json:"max"`
	Window Duration `json:"window"`
}

// AlertRule raises an alert when more than Over overrides of its scope (and
// Colour, when set) fall in a Window ending at one of them.
type AlertRule struct {
	ID     string     `json:"id"`
	By     AlertScope `json:"by"`
	Colour string     `json:"colour,omitempty"` // only overrides to this colour count; empty: all
	Window Duration   `json:"window"`
	Over   int        `json:"over"`

	level int // Colour's level, -1 for all
}

// Matches reports whether an override to level counts for the rule.
func (a *AlertRule) Matches(level uint8) bool { return a.level < 0 || int(a.level) == int(level) }

// OverrideRules are a policy's rules for official overrides (its "overrides"
// section). The zero value allows every colour, any until and any number,
// and raises no alert.
type OverrideRules struct {
	// Colours says, per colour name, when an override may set it. When the
	// section names colours it must name every one; absent, all are "any".
	Colours map[string]OverrideAllow `json:"colours,omitempty"`
	// ReasonCodes are the reason codes an override may carry.
	ReasonCodes []string `json:"reason_codes,omitempty"`
	// MaxUntil is the longest an override may last (until - occurred_at);
	// 0: no limit.
	MaxUntil Duration `json:"max_until,omitempty"`
	// RateLimit is the per-officer limit; nil: none.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Alerts are the bulk-alert thresholds.
	Alerts []AlertRule `json:"alerts,omitempty"`
	// CorrectionEN and CorrectionZH open the reason of an override that sets
	// the lowest colour, so a citizen reads that their code was corrected.
	CorrectionEN string `json:"correction_en,omitempty"`
	CorrectionZH string `json:"correction_zh,omitempty"`

	allow []OverrideAllow // per level
}

// Default texts of a correction to the lowest colour.
const (
	defaultCorrectionEN = "Corrected after an official review."
	defaultCorrectionZH = "经官方复核予以更正。"
)

// Allow returns when an override may set level.
func (r *OverrideRules) Allow(level uint8) OverrideAllow {
	if int(level) >= len(r.allow) {
		return AllowNever
	}
	return r.allow[level]
}

// KnowsReasonCode reports whether code is one of the policy's reason codes.
func (r *OverrideRules) KnowsReasonCode(code string) bool {
	for _, c := range r.ReasonCodes {
		if c == code {
			return true
		}
	}
	return false
}

// LongestWindow is the longest alert or rate-limit window (0 if none).
func (r *OverrideRules) LongestWindow() time.Duration {
	var w time.Duration
	if r.RateLimit != nil {
		w = r.RateLimit.Window.Std()
	}
	for i := range r.Alerts {
		w = max(w, r.Alerts[i].Window.Std())
	}
	return w
}

var reasonCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (r *OverrideRules) setDefaultsAndValidate(colours []string) error {
	if r.CorrectionEN == "" {
		r.CorrectionEN = defaultCorrectionEN
	}
	if r.CorrectionZH == "" {
		r.CorrectionZH = defaultCorrectionZH
	}
	r.allow = make([]OverrideAllow, len(colours))
	for i, c := range colours {
		a, ok := r.Colours[c]
		switch {
		case len(r.Colours) == 0:
			a = AllowAny
		case !ok:
			return fmt.Errorf("colours: %q is not listed; list every colour or none", c)
		}
		switch a {
		case AllowAny, AllowReasonCode, AllowNever:
		default:
			return fmt.Errorf("colours: %q: want any, reason_code or never, have %q", c, a)
		}
		r.allow[i] = a
	}
	for c := range r.Colours {
		known := false
		for _, pc := range colours {
			known = known || pc == c
		}
		if !known {
			return fmt.Errorf("colours: %q is not a policy colour", c)
		}
	}
	seen := map[string]bool{}
	for _, c := range r.ReasonCodes {
		if !reasonCodeRE.MatchString(c) || seen[c] {
			return fmt.Errorf("reason_codes: %q: empty, malformed or repeated (lowercase letters, digits, - and _)", c)
		}
		seen[c] = true
	}
	for i, a := range r.allow {
		if a == AllowReasonCode && len(r.ReasonCodes) == 0 {
			return fmt.Errorf("colours: %q needs a reason code, but reason_codes is empty", colours[i])
		}
	}
	if r.MaxUntil < 0 {
		return fmt.Errorf("max_until is negative")
	}
	if l := r.RateLimit; l != nil && (l.Max < 1 || l.Window <= 0) {
		return fmt.Errorf("rate_limit: want max of 1 or more and a positive window")
	}
	ids := map[string]bool{}
	for i := range r.Alerts {
		a := &r.Alerts[i]
		if !nameRE.MatchString(a.ID) || ids[a.ID] {
			return fmt.Errorf("alert %d: id %q: empty, malformed or repeated", i, a.ID)
		}
		ids[a.ID] = true
		switch a.By {
		case ScopeOfficer, ScopePair, ScopeColour, ScopeRegion:
		default:
			return fmt.Errorf("alert %q: by %q: want officer, pair, colour or region", a.ID, a.By)
		}
		a.level = -1
		if a.Colour != "" {
			found := false
			for l, c := range colours {
				if c == a.Colour {
					a.level, found = l, true
				}
			}
			if !found {
				return fmt.Errorf("alert %q: colour %q is not a policy colour", a.ID, a.Colour)
			}
		}
		if a.Window <= 0 || a.Over < 0 {
			return fmt.Errorf("alert %q: want a positive window and over of 0 or more", a.ID)
		}
	}
	return nil
}

// Issued returns the level last issued for person k; ok is false for a
// person never issued an update (green by the contract).
func (e *Engine) Issued(k PersonKey) (level uint8, ok bool) {
	idx, found := e.index.get(&k, e.facts)
	if !found || e.facts[idx].Issued == issuedNone {
		return 0, false
	}
	return e.facts[idx].Issued, true
}

// OverrideID returns the event id of the override held in person k's facts
// (the latest by occurred_at), or "".
func (e *Engine) OverrideID(k PersonKey) string {
	idx, found := e.index.get(&k, e.facts)
	if !found {
		return ""
	}
	cs := e.person(idx).cs
	if cs == nil || cs.OverrideAt == 0 {
		return ""
	}
	return e.strs.Get(cs.OverrideRef)
}
