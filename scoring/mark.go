package scoring

import "fmt"

// MarkLevel is why a person's presences are dangerous.
type MarkLevel uint8

// Mark levels. Exposure level falls by one per hop: a case's co-presents are
// close contacts or companions; a close contact's co-presents (by the close
// definitions) are secondary contacts; secondary contacts mark nobody.
const (
	MarkCase  MarkLevel = iota + 1 // a confirmed case (positive PCR)
	MarkClose                      // a close contact of a case
)

// Mark says that Person's presences in [From, To] are dangerous.
type Mark struct {
	Person PersonKey
	Level  MarkLevel
	// From..To is the dangerous window, both ends included. For a case, from
	// Contacts.InfectiousBefore before the first positive sample to its
	// reported_at; for a close contact, from its exposure time to the case's
	// reported_at. To == 0 means open-ended (reported_at unknown).
	From, To Time
	Source   PersonKey // MarkClose: the case
	ID       string    // evidence: the positive PCR event id, or the close-contact exposure id
}

// CaseMark is the mark of a case whose first positive PCR was sampled at
// sampled and reported at reported (0 if unknown), from event id.
func CaseMark(person PersonKey, sampled, reported Time, id string, p *Policy) Mark {
	return Mark{Person: person, Level: MarkCase, From: sampled.Add(-p.Contacts.InfectiousBefore.Std()), To: reported, ID: id}
}

// CloseMark is the mark a close-contact exposure event (KindExposure with Sub
// ExposureClose, as the tracer writes it) puts on the exposed person:
// dangerous from the exposure (At) to the case's reported_at (End), with the
// case (Text, its key in hex; "" if unknown) as Source. ok is false for any
// other event, and for a close exposure whose window is empty (End unknown or
// not after At): the chain stops at secondary contacts, and companions and
// area risk mark nobody. err reports a Text that is not a person key.
func CloseMark(ev *Event) (m Mark, ok bool, err error) {
	if ev.Kind != KindExposure || ExposureKind(ev.Sub) != ExposureClose || ev.End <= ev.At {
		return Mark{}, false, nil
	}
	m = Mark{Person: ev.Person, Level: MarkClose, From: ev.At, To: ev.End, ID: ev.ID}
	if ev.Text != "" {
		if m.Source, err = ParsePersonKey(ev.Text); err != nil {
			return Mark{}, false, fmt.Errorf("close-contact exposure: case: %w", err)
		}
	}
	return m, true, nil
}
