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
	// Retracted takes back the close-contact mark with this ID (its exposure
	// was retracted, or its window became empty): the tracer re-derives, and
	// retracts, the secondary contacts found under it.
	Retracted bool
}

// CaseMark is the mark of a case whose first positive PCR was sampled at
// sampled and reported at reported (0 if unknown), from event id.
func CaseMark(person PersonKey, sampled, reported Time, id string, p *Policy) Mark {
	return Mark{Person: person, Level: MarkCase, From: sampled.Add(-p.Contacts.InfectiousBefore.Std()), To: reported, ID: id}
}

// CloseMark is the mark a close-contact exposure event (KindExposure with Sub
// ExposureClose, as the tracer writes it) puts on the exposed person:
// dangerous from the earliest exposure time (First; At when First is 0) to the
// case's reported_at (End), with the case (Text, its key in hex; "" if unknown)
// as Source and the exposure id as ID, so that a later version of the same
// exposure replaces it. A retracted close exposure, or one whose window is
// empty (End unknown or not after the start), gives a retraction of the mark
// of that ID (Retracted set): the chain stops at secondary contacts. ok is
// false for any other event: companions and area risk mark nobody. err
// reports a Text that is not a person key.
func CloseMark(ev *Event) (m Mark, ok bool, err error) {
	if ev.Kind != KindExposure || ExposureKind(ev.Sub) != ExposureClose {
		return Mark{}, false, nil
	}
	from := ev.First
	if from == 0 || from > ev.At {
		from = ev.At
	}
	if ev.Retracted || ev.End <= from {
		return Mark{Person: ev.Person, Level: MarkClose, ID: ev.ID, Retracted: true}, true, nil
	}
	m = Mark{Person: ev.Person, Level: MarkClose, From: from, To: ev.End, ID: ev.ID}
	if ev.Text != "" {
		if m.Source, err = ParsePersonKey(ev.Text); err != nil {
			return Mark{}, false, fmt.Errorf("close-contact exposure: case: %w", err)
		}
	}
	return m, true, nil
}
