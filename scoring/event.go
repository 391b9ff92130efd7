package scoring

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Epoch is the zero of Time: 2020-01-01T00:00:00Z. Health codes began in 2020;
// nothing earlier is representable.
const Epoch int64 = 1577836800

// Time is seconds since Epoch. Zero means "never" / "absent". A uint32 covers
// 2020 to 2156 and keeps Facts small.
type Time uint32

// MaxTime is the latest representable instant.
const MaxTime Time = 1<<32 - 1

// ErrTimeRange is returned for instants before Epoch or after MaxTime.
var ErrTimeRange = errors.New("time outside 2020-01-01..2156")

// TimeOf converts a wall time to Time. Times before Epoch or past MaxTime fail.
// Sub-second precision is truncated.
func TimeOf(t time.Time) (Time, error) {
	s := t.Unix() - Epoch
	if s <= 0 || s >= int64(MaxTime) {
		return 0, fmt.Errorf("%s: %w", t.Format(time.RFC3339), ErrTimeRange)
	}
	return Time(s), nil
}

// MustTime is TimeOf for tests and constants; it panics on a bad time.
func MustTime(s string) Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	tt, err := TimeOf(t)
	if err != nil {
		panic(err)
	}
	return tt
}

// Std returns the instant as a time.Time in UTC. The zero Time gives the zero time.Time.
func (t Time) Std() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(Epoch+int64(t), 0).UTC()
}

// Add returns t+d, saturating at MaxTime. Adding to the zero Time gives zero.
func (t Time) Add(d time.Duration) Time {
	if t == 0 {
		return 0
	}
	s := int64(t) + int64(d/time.Second)
	switch {
	case s >= int64(MaxTime):
		return MaxTime
	case s <= 0:
		return 1
	}
	return Time(s)
}

// Format renders t as RFC 3339 in the given location ("" for the zero Time).
func (t Time) Format(loc *time.Location) string {
	if t == 0 {
		return ""
	}
	return t.Std().In(loc).Format(time.RFC3339)
}

// PersonKey is the pseudonymous person key: the first 16 bytes of
// HMAC-SHA256(secret, id_type + ":" + id_number). Raw identifiers never appear
// beyond sources.
type PersonKey [16]byte

// String returns the key as 32 lowercase hex characters (the wire form).
func (k PersonKey) String() string { return hex.EncodeToString(k[:]) }

// ParsePersonKey parses the 32-character hex form.
func ParsePersonKey(s string) (PersonKey, error) {
	var k PersonKey
	if len(s) != 32 {
		return k, fmt.Errorf("person key: want 32 hex characters, have %d", len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, errors.New("person key: want 32 hex characters, have others")
	}
	return k, nil
}

// Partition maps a person to one of n partitions. Keys are HMAC output, so the
// first four bytes are uniform. Every stage that partitions by person uses this.
func (k PersonKey) Partition(n int) int {
	if n <= 1 {
		return 0
	}
	v := uint32(k[0])<<24 | uint32(k[1])<<16 | uint32(k[2])<<8 | uint32(k[3])
	return int(v % uint32(n))
}

// Kind is the kind of a person event on hc.person-events.
type Kind uint8

// Person event kinds. Values are part of the internal wire format: append only.
const (
	KindInvalid     Kind = iota
	KindTest             // a test result; Sub is TestKind, Result the outcome, End the reported_at
	KindCheckin          // a venue stay; Place the venue id, Cell its H3 cell, End left_at (0 if absent)
	KindTravel           // a region stay; Place the region code, Country, Cell (0 if no location), End left_at
	KindArrival          // a flight leg; Place "NUMBER/DATE", Country the origin country, Text the destination airport, Row the seat row, At = arrived_at, End = departed_at
	KindVaccination      // a vaccine dose; Dose, Text the product
	KindDeclaration      // a self-declaration; Symptoms bitmask, TempDeci (0.1 °C, 0 if absent)
	KindOverride         // an official override; Level the colour level, End until, Text the reason
	KindExposure         // an exposure found by contact tracing or area risk; Sub is ExposureKind, At the exposure time (end of overlap)
	KindTick             // event clock: At is the highest occurred_at seen upstream; no person
	KindArea             // an area designation broadcast to every partition; no person (see AreaEvent)
	KindMark             // on hc.presence: a person whose presences became dangerous (see MarkEvent)
	KindJourney          // a return-journey declaration (see JourneyEvent); End the planned arrival
	kindCount
)

var kindNames = [...]string{"invalid", "test", "checkin", "travel", "arrival", "vaccination", "declaration", "override", "exposure", "tick", "area", "mark", "journey"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k > KindInvalid && k < kindCount }

// TestKind is Event.Sub for KindTest.
type TestKind uint8

// Test kinds (wire values).
const (
	TestPCR TestKind = iota + 1
	TestAntigen
	TestIgG
	TestIgM
)

// Result is Event.Result for KindTest.
type Result uint8

// Test results (wire values).
const (
	ResultNegative Result = iota + 1
	ResultPositive
	ResultInconclusive
)

// ExposureKind is Event.Sub for KindExposure.
type ExposureKind uint8

// Exposure kinds (wire values).
const (
	ExposureClose ExposureKind = iota + 1
	ExposureCompanion
	ExposureSecondary
	ExposureAreaHigh   // a counted stay overlapping a high-risk area designation
	ExposureAreaMedium // a counted stay overlapping a medium-risk area designation
)

// Fact returns the fact an exposure of kind k sets (anchored at its time);
// ok is false for an unknown kind.
func (k ExposureKind) Fact() (f Fact, ok bool) {
	switch k {
	case ExposureClose:
		return FactCloseContact, true
	case ExposureCompanion:
		return FactCompanion, true
	case ExposureSecondary:
		return FactSecondaryContact, true
	case ExposureAreaHigh:
		return FactAreaHigh, true
	case ExposureAreaMedium:
		return FactAreaMedium, true
	}
	return 0, false
}

// exposureOf is the exposure kind whose exposures set fact f, 0 for a fact
// no exposure sets (the inverse of ExposureKind.Fact).
func exposureOf(f Fact) ExposureKind {
	switch f {
	case FactCloseContact:
		return ExposureClose
	case FactCompanion:
		return ExposureCompanion
	case FactSecondaryContact:
		return ExposureSecondary
	case FactAreaHigh:
		return ExposureAreaHigh
	case FactAreaMedium:
		return ExposureAreaMedium
	}
	return 0
}

// Symptom bits for KindDeclaration.
const (
	SymptomFever uint8 = 1 << iota
	SymptomCough
	SymptomFatigue
	SymptomLossOfSmell
	SymptomSoreThroat
)

// SymptomBits maps the contract's symptom names to bits.
var SymptomBits = map[string]uint8{
	"fever":         SymptomFever,
	"cough":         SymptomCough,
	"fatigue":       SymptomFatigue,
	"loss_of_smell": SymptomLossOfSmell,
	"sore_throat":   SymptomSoreThroat,
}

// RowCrew is Event.Row for crew members on a flight.
const RowCrew int16 = -1

// Event is one fact about one person, as carried on hc.person-events. It holds no
// raw identifier: Person is the pseudonymous key. Fields not used by a kind are
// zero.
type Event struct {
	Person   PersonKey
	Kind     Kind
	Sub      uint8  // TestKind or ExposureKind
	Result   Result // KindTest
	Level    uint8  // KindOverride: colour level
	Dose     uint8  // KindVaccination
	Symptoms uint8  // KindDeclaration
	TempDeci int16  // KindDeclaration: temperature in 0.1 °C; 0 if absent
	Row      int16  // KindArrival: seat row, RowCrew for crew
	At       Time   // occurred_at (arrived_at for KindArrival; exposure time for KindExposure)
	End      Time   // left_at, reported_at, until, departed_at; 0 if absent
	Cell     uint64 // H3 cell at resolution 15 of a venue or location; 0 if none
	Country  string // ISO 3166-1 alpha-3: origin of an arrival, country of a travel stay
	Place    string // venue id, region code, "FLIGHT/DATE", or the exposure's place
	ID       string // upstream event_id (evidence); for exposures, the tracing event id
	Source   string // the upstream system that sent it
	Text     string // override reason (free text written by an officer; no raw ids); arrival: destination airport; journey: origin city
	// KindExposure: First is the earliest exposure time of the exposure (the
	// end of its earliest overlap; At is the latest), Version its version
	// (a later version of the same exposure id replaces an earlier one) and
	// Retracted marks a version that takes the exposure back. KindMark:
	// Retracted takes back the close-contact mark of the same ID.
	First     Time
	Version   uint64
	Retracted bool
}

// AreaKind is the kind of area in a designation.
type AreaKind uint8

// Area kinds (wire values).
const (
	AreaCountry AreaKind = iota + 1
	AreaRegion
	AreaH3
)

// RiskLevel is an area risk level. Higher is more severe.
type RiskLevel uint8

// Risk levels (wire values).
const (
	RiskLow RiskLevel = iota + 1
	RiskMedium
	RiskHigh
)

// Designation is an area risk designation: Area was at Level from From until
// Until (0 = open-ended). A later designation of the same area replaces an
// earlier one from its From on. Designations are retroactive.
type Designation struct {
	Kind  AreaKind
	Code  string // ISO alpha-3, GB/T 2260 region code, or H3 cell index in hex
	Cell  uint64 // parsed H3 cell for AreaH3
	Level RiskLevel
	From  Time
	Until Time
	ID    string // upstream event_id
}

// AreaEvent carries a designation on hc.person-events, so that every partition
// sees it in order with the events ingested after it: Sub is the AreaKind,
// Level the RiskLevel, At the start, End the end, Place the code, Cell the H3 cell.
func AreaEvent(d Designation) Event {
	return Event{Kind: KindArea, Sub: uint8(d.Kind), Level: uint8(d.Level), At: d.From, End: d.Until,
		Place: d.Code, Cell: d.Cell, ID: d.ID}
}

// Designation returns the designation carried by a KindArea event.
func (ev *Event) Designation() Designation {
	return Designation{Kind: AreaKind(ev.Sub), Level: RiskLevel(ev.Level), From: ev.At, Until: ev.End,
		Code: ev.Place, Cell: ev.Cell, ID: ev.ID}
}

// MarkEvent carries a contact-tracing mark on hc.presence: Person is the
// marked person, Sub the MarkLevel, At..End the dangerous window, Text the
// source case's key (hex) for close-contact marks, ID the evidence.
func MarkEvent(m Mark) Event {
	ev := Event{Person: m.Person, Kind: KindMark, Sub: uint8(m.Level), At: m.From, End: m.To, ID: m.ID, Retracted: m.Retracted}
	if m.Source != (PersonKey{}) {
		ev.Text = m.Source.String()
	}
	return ev
}

// Mark returns the mark carried by a KindMark event. It fails when Text is
// neither empty nor a person key.
func (ev *Event) Mark() (Mark, error) {
	m := Mark{Person: ev.Person, Level: MarkLevel(ev.Sub), From: ev.At, To: ev.End, ID: ev.ID, Retracted: ev.Retracted}
	if ev.Text != "" {
		var err error
		if m.Source, err = ParsePersonKey(ev.Text); err != nil {
			return Mark{}, fmt.Errorf("mark: source: %w", err)
		}
	}
	return m, nil
}
