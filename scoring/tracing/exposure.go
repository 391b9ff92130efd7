package tracing

import "healthcode/scoring"

// Exposure is one version of one exposure found by the tracer. Its identity is
// (Exposed, Source, Place, Kind): every overlap of the same two people at the
// same place, under any of the source's marks, is one exposure, and a later
// finding about it (another overlap, a changed window, a replaced
// designation) is a new version of it with the same ID. A version with
// Retracted set takes the exposure back: nothing gives it any more.
type Exposure struct {
	Exposed scoring.PersonKey
	// Source is the marked person whose presence was dangerous: the case for
	// close contacts and companions, the close contact for secondary contacts;
	// zero for area risk.
	Source scoring.PersonKey
	Kind   scoring.ExposureKind
	Place  string // the place key (Presence.PlaceKey)
	// Start..End spans the overlaps of the two stays within the dangerous
	// window (from the earliest start to the latest end); for area risk, the
	// stays within the designated period.
	Start, End scoring.Time
	// At is the time the engine anchors on: the latest end of an overlap for
	// contacts, the latest end of a stay for area risk (POLICY: "14 days after
	// the stay ends"). First is the earliest such time (where a close
	// contact's own dangerous window starts).
	At, First scoring.Time
	// WindowEnd is, for contacts, the case's reported_at (0 when unknown): when
	// the contact became known (the score stage places an exposure by it with
	// `run --lateness`), and for ExposureClose the end of the window in which
	// this person's own contacts are secondary. 0 for area risk.
	WindowEnd scoring.Time
	// Evidence: the mark's id (or the designation's id) and the event ids of
	// the presences of the overlap that gives At, dangerous one first.
	Evidence []string
	// ID is "exp-" and 32 hex digits of SHA-256 of (Exposed, Source, Kind,
	// Place): the same for every version.
	ID string
	// Version rises with every version the tracer emits (Tracer.SetVersion);
	// the highest version of an ID is the current one.
	Version uint64
	// Retracted marks a version that takes the exposure back; its times are
	// zero but At, the end of the latest stay that was behind it.
	Retracted bool
}

// Event is the exposure as a person event for the scoring engine (KindExposure).
func (x *Exposure) Event() scoring.Event {
	ev := scoring.Event{Person: x.Exposed, Kind: scoring.KindExposure, Sub: uint8(x.Kind), At: x.At, End: x.WindowEnd,
		First: x.First, Place: x.Place, ID: x.ID, Source: "tracing", Version: x.Version, Retracted: x.Retracted}
	if x.Source != (scoring.PersonKey{}) {
		ev.Text = x.Source.String() // the engine's close mark names the case behind it
	}
	return ev
}
