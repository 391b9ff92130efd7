package wire

import (
	"errors"
	"fmt"
	"time"

	"healthcode/scoring"
	"healthcode/scoring/guard"
)

// Audit decisions written by the scoring stage (the guard's are guard.Accepted,
// guard.Refused, guard.Held and guard.Confirmed).
const (
	AuditApplied    = "applied"    // the override now sets the person's colour
	AuditSuperseded = "superseded" // a later override of the person was already in force: nothing changed
)

// AuditDecisions lists every decision of the override_audit table, in the
// order of its Enum8 values.
var AuditDecisions = []string{guard.Accepted, guard.Refused, guard.Held, guard.Confirmed, AuditApplied, AuditSuperseded}

// OverrideAudit is one entry of the override audit: a record on the internal
// topic hc.override-audit and a row of the ClickHouse override_audit table.
// Keys are pseudonymous (officers and approvers keyed like persons with
// id_type "officer"); times are Unix seconds.
type OverrideAudit struct {
	EventID        string `json:"event_id"`
	Source         string `json:"source"`
	Decision       string `json:"decision"` // one of AuditDecisions
	Person         string `json:"person_key"`
	Officer        string `json:"officer_key"`
	Approver       string `json:"approver_key"`
	SecondApprover string `json:"second_approver_key,omitempty"` // who confirmed a held override
	Colour         string `json:"colour"`                        // the colour asked for
	Level          uint8  `json:"level"`
	ColourBefore   string `json:"colour_before,omitempty"` // applied, superseded: the person's colour before
	ColourAfter    string `json:"colour_after,omitempty"`  // and after
	Reason         string `json:"reason"`
	ReasonCode     string `json:"reason_code,omitempty"`
	Region         string `json:"office_region,omitempty"`
	OccurredAt     int64  `json:"occurred_at"`
	Until          int64  `json:"until"`
	DecidedAt      int64  `json:"decided_at"`
	Why            string `json:"why,omitempty"` // why refused or held; one sentence, no identifiers
	Confirms       string `json:"confirms,omitempty"`
	Policy         string `json:"policy"`
}

// OverrideAlert is a bulk alert: a record on hc.override-audit and a row of
// the ClickHouse override_alerts table.
type OverrideAlert struct {
	AlertID   string `json:"alert_id"`
	Rule      string `json:"rule"`
	Scope     string `json:"scope"` // officer, pair, colour or region
	Officer   string `json:"officer_key,omitempty"`
	Approver  string `json:"approver_key,omitempty"`
	Colour    string `json:"colour,omitempty"` // the rule's colour, or the colour counted by a colour scope
	Region    string `json:"office_region,omitempty"`
	Window    int64  `json:"window_seconds"`
	Threshold int    `json:"threshold"` // the rule's "over"
	Count     int    `json:"count"`
	RaisedAt  int64  `json:"raised_at"` // occurred_at of the override that raised it
	EventID   string `json:"event_id"`
	Policy    string `json:"policy"`
}

// OverrideAuditRecord is one message of hc.override-audit: an audit entry or
// an alert.
type OverrideAuditRecord struct {
	Audit *OverrideAudit `json:"audit,omitempty"`
	Alert *OverrideAlert `json:"alert,omitempty"`
}

func colourName(p *scoring.Policy, level int) string {
	if level >= 0 && level < len(p.Colours) {
		return p.Colours[level]
	}
	return fmt.Sprintf("level-%d", level)
}

func keyOrEmpty(k scoring.PersonKey) string {
	if k == (scoring.PersonKey{}) {
		return ""
	}
	return k.String()
}

// NewOverrideAudit renders an entry of the guard.
func NewOverrideAudit(p *scoring.Policy, e *guard.Entry) OverrideAudit {
	o := &e.Override
	return OverrideAudit{EventID: o.ID, Source: o.Source, Decision: e.Decision, Person: o.Person.String(),
		Officer: o.Officer.String(), Approver: o.Approver.String(), SecondApprover: keyOrEmpty(e.SecondApprover),
		Colour: colourName(p, int(o.Level)), Level: o.Level, Reason: o.Reason, ReasonCode: o.ReasonCode, Region: o.Region,
		OccurredAt: unix(o.At), Until: unix(o.Until), DecidedAt: unix(e.At), Why: e.Why, Confirms: o.Confirms, Policy: p.Stamp()}
}

// NewAppliedAudit renders what the scoring stage did with an accepted
// override event: applied, or superseded by a later override, with the
// person's colour before (level -1: never seen, the lowest colour) and after.
func NewAppliedAudit(p *scoring.Policy, ev *scoring.Event, before, after int, superseded bool, now scoring.Time) OverrideAudit {
	officer, approver, _ := scoring.OverrideSigners(ev)
	a := OverrideAudit{EventID: ev.ID, Source: ev.Source, Decision: AuditApplied, Person: ev.Person.String(),
		Officer: keyOrEmpty(officer), Approver: keyOrEmpty(approver), Colour: colourName(p, int(ev.Level)), Level: ev.Level,
		ColourBefore: colourName(p, max(before, 0)), ColourAfter: colourName(p, max(after, 0)), Reason: ev.Text,
		OccurredAt: unix(ev.At), Until: unix(ev.End), DecidedAt: unix(now), Policy: p.Stamp()}
	if superseded {
		a.Decision, a.Why = AuditSuperseded, "a later override of the person was already in force"
	}
	return a
}

// NewOverrideAlert renders an alert of the guard.
func NewOverrideAlert(p *scoring.Policy, a *guard.Alert) OverrideAlert {
	out := OverrideAlert{AlertID: a.ID, Rule: a.Rule.ID, Scope: string(a.Rule.By), Officer: keyOrEmpty(a.Officer),
		Approver: keyOrEmpty(a.Approver), Colour: a.Rule.Colour, Region: a.Region, Window: int64(a.Rule.Window.Std() / time.Second),
		Threshold: a.Rule.Over, Count: a.Count, RaisedAt: unix(a.RaisedAt), EventID: a.EventID, Policy: p.Stamp()}
	if a.Level >= 0 {
		out.Colour = colourName(p, a.Level)
	}
	return out
}

// GuardEntry parses a guard's audit entry back (the guard restores its
// windows from them); ok is false for the scoring stage's entries.
func (a *OverrideAudit) GuardEntry() (e guard.Entry, ok bool, err error) {
	switch a.Decision {
	case guard.Accepted, guard.Refused, guard.Held, guard.Confirmed:
	default:
		return e, false, nil
	}
	var keys [4]scoring.PersonKey
	for i, s := range [...]string{a.Person, a.Officer, a.Approver, a.SecondApprover} {
		if s == "" && i == 3 {
			continue
		}
		if keys[i], err = scoring.ParsePersonKey(s); err != nil {
			return e, false, fmt.Errorf("override audit: %w", err)
		}
	}
	at, until, decided, err := auditTimes(a.OccurredAt, a.Until, a.DecidedAt)
	if err != nil {
		return e, false, err
	}
	return guard.Entry{Decision: a.Decision, At: decided, Why: a.Why, SecondApprover: keys[3],
		Override: scoring.Override{ID: a.EventID, Source: a.Source, Person: keys[0], Level: a.Level, At: at, Until: until,
			Reason: a.Reason, ReasonCode: a.ReasonCode, Region: a.Region, Officer: keys[1], Approver: keys[2], Confirms: a.Confirms}}, true, nil
}

func auditTimes(ts ...int64) (a, b, c scoring.Time, err error) {
	var out [3]scoring.Time
	for i, t := range ts {
		if t == 0 {
			continue
		}
		if out[i], err = scoring.TimeOf(time.Unix(t, 0)); err != nil {
			return 0, 0, 0, fmt.Errorf("override audit: %w", err)
		}
	}
	if out[0] == 0 {
		return 0, 0, 0, errors.New("override audit: no occurred_at")
	}
	return out[0], out[1], out[2], nil
}
