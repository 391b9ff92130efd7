package tracing

import "healthcode/scoring"

// Exposure is one person exposed at one place, found by the tracer.
type Exposure struct {
	Exposed scoring.PersonKey
	// Source is the marked person whose presence was dangerous: the case for
	// close contacts and companions, the close contact for secondary contacts;
	// zero for area risk.
	Source scoring.PersonKey
	Kind   scoring.ExposureKind
	Place  string // the place key (Presence.PlaceKey)
	// Start..End is the overlap of the two stays within the dangerous window;
	// for area risk, the stay within the designated period.
	Start, End scoring.Time
	// At is the time the engine anchors on: the end of the overlap for contacts,
	// the end of the stay for area risk (POLICY: "14 days after the stay ends").
	At scoring.Time
	// WindowEnd is, for ExposureClose, the case's reported_at: the end of the
	// window in which this person's own contacts are secondary. 0 otherwise or
	// when unknown.
	WindowEnd scoring.Time
	// Evidence: the mark's id (or the designation's id) and the event ids of the
	// presences involved, dangerous one first.
	Evidence []string
	// ID is deterministic from (Exposed, Source, Kind, Place, Start, End), so
	// duplicates downstream collapse.
	ID string
}

// Event is the exposure as a person event for the scoring engine (KindExposure).
func (x *Exposure) Event() scoring.Event {
	ev := scoring.Event{Person: x.Exposed, Kind: scoring.KindExposure, Sub: uint8(x.Kind), At: x.At, End: x.WindowEnd,
		Place: x.Place, ID: x.ID, Source: "tracing"}
	if x.Source != (scoring.PersonKey{}) {
		ev.Text = x.Source.String() // the engine's close mark names the case behind it
	}
	return ev
}
