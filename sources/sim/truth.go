package sim

import (
	"bufio"
	"encoding/json"
	"io"
	"time"

	"healthcode/sources"
)

// Infection is one line of the ground truth Run writes to Config.Truth: who was
// infected, when, where and by whom, by person key (docs/contract.md), never by raw
// identifier. Lines come in the order the simulator created the infections:
// index cases, imported cases, then transmissions in time order.
type Infection struct {
	PersonKey  string    `json:"person_key"`
	InfectedAt time.Time `json:"infected_at"`
	// SourceKey is the infector's person key; empty (absent) for index and
	// imported cases.
	SourceKey string `json:"source_key,omitempty"`
	// Place is the venue id for a transmission, "index" for an index case,
	// "abroad:DEU" (the flight's origin country) for an imported case.
	Place string `json:"place"`
	// Kind is "index", "imported" or "venue".
	Kind string `json:"kind"`
	// Generation is 0 for index and imported cases, the infector's plus one
	// otherwise.
	Generation  int       `json:"generation"`
	OnsetAt     time.Time `json:"onset_at"`
	Symptomatic bool      `json:"symptomatic"`
	// InfectiousFrom is two days before onset; the person is infectious until
	// DetectedAt (or the end of the run).
	InfectiousFrom time.Time `json:"infectious_from"`
	// DetectedAt is the reported_at of the first positive test (PCR or
	// antigen-confirmed PCR) sampled during the run; absent if none.
	DetectedAt time.Time `json:"detected_at,omitzero"`
}

func (s *sim) infectionOf(c *infection) Infection {
	tm := func(t int32) time.Time { return time.Unix(s.start+int64(t), 0).In(s.loc) }
	in := Infection{
		PersonKey:      s.key(c.person),
		InfectedAt:     tm(c.at),
		Generation:     int(c.gen),
		OnsetAt:        tm(c.onset),
		Symptomatic:    c.symptomatic,
		InfectiousFrom: tm(c.onset - preSymptomatic),
	}
	switch {
	case c.place == placeIndex:
		in.Place, in.Kind = "index", "index"
	case c.place <= placeAbroad0:
		in.Place, in.Kind = "abroad:"+countries[placeAbroad0-c.place], "imported"
	default:
		v := &s.venues[c.place]
		in.Place = "V" + districts[v.dist].code + string(appendUint(nil, uint64(v.num), 6))
		in.Kind = "venue"
		in.SourceKey = s.key(c.source)
	}
	if c.isolated != never {
		in.DetectedAt = tm(c.isolated)
	}
	return in
}

// key returns p's person key.
func (s *sim) key(p int32) string {
	kind := s.people[p].doc
	return sources.PersonKey(s.cfg.Key, idTypeNames[kind], string(s.id.appendIDNumber(nil, p, kind))).String()
}

func (s *sim) writeTruth(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range s.cases {
		if err := enc.Encode(s.infectionOf(&s.cases[i])); err != nil {
			return err
		}
	}
	return bw.Flush()
}
