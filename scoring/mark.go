package scoring

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
