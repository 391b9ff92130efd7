package sim

import (
	"github.com/uber/h3-go/v4"

	"healthcode/sources"
)

// The disease and its spread.
//
// An infected person's incubation is 3 to 6 days; 70% develop symptoms at
// onset. They are infectious from 2 days before onset until isolated, which
// happens when their first positive test is reported. PCR is positive
// (sensitivity 97%, no false positives) from onset on; antigen tests catch 70%
// of cases after onset and give 0.2% false positives.
//
// Transmission is by co-presence at venues: when two stays at a venue overlap
// by at least the policy's close-contact overlap (Config.Policy; 15 minutes in
// the shipped policies) and, at the later entry, one person is infectious and
// the other was never infected, the second is infected with probability
// Config.Transmission, at that later entry (the start of the co-presence).

const (
	preSymptomatic  = 2 * day
	pcrSensitivity  = 97 // percent
	antigenSens     = 70 // percent
	antigenFalsePos = 2  // per thousand
	symptomaticPct  = 70 // percent
	clinicPct       = 85 // percent of symptomatic cases who get a PCR at a fever clinic
	quarantineHigh  = 14 * day
	designationDays = 14 * day
)

// stay is a person present at a venue until out. who is the person, or ^person
// when that person was already infected at entry (only they can be
// infectious within a stay of a few hours).
type stay struct {
	who int32
	out int32
}

// infectious reports whether p can infect others at t.
func (s *sim) infectious(p, t int32) bool {
	c := s.people[p].inf
	if c == 0 {
		return false
	}
	ci := &s.cases[c-1]
	return t >= ci.onset-preSymptomatic && t < ci.isolated
}

// transmit records p's stay [in, out) at venue v and lets the disease pass
// between p and everyone present for s.contactMin or more.
//
// Only a stay that can transmit scans the venue: an infectious p, or a
// never-infected p at a venue where someone infected is listed (s.infAt).
// Other stays are appended; stays that ended are dropped when the list is
// scanned or full. This keeps the common check-in to one append.
func (s *sim) transmit(p, v, in, out int32) {
	list := s.occ[v]
	pInf := s.infectious(p, in)
	pSus := s.people[p].inf == 0
	if pInf || (pSus && s.infAt[v] > 0) {
		list = s.scan(p, v, in, out, pInf, pSus, list)
	} else if len(list) == cap(list) && len(list) >= 8 {
		list = s.prune(v, in, list)
	}
	who := p
	if s.people[p].inf != 0 {
		who = ^p
		s.infAt[v]++
	}
	s.occ[v] = append(list, stay{who, out})
}

// scan drops stays that ended before in and rolls for transmission with
// every stay overlapping [in, out) by s.contactMin or more.
func (s *sim) scan(p, v, in, out int32, pInf, pSus bool, list []stay) []stay {
	j := 0
	var flagged uint16
	for _, e := range list {
		if e.out <= in {
			continue
		}
		list[j] = e
		j++
		q := e.who
		if q < 0 {
			flagged++
		}
		if min(out, e.out)-in < s.contactMin {
			continue
		}
		if q < 0 {
			if q = ^q; pSus && s.infectious(q, in) && s.rng.Float64() < s.cfg.Transmission {
				s.infect(p, in, q, v)
				pSus = false
			}
		} else if pInf && s.people[q].inf == 0 && s.rng.Float64() < s.cfg.Transmission {
			s.infect(q, in, p, v)
		}
	}
	s.infAt[v] = flagged
	return list[:j]
}

// prune drops stays that ended before t.
func (s *sim) prune(v, t int32, list []stay) []stay {
	j := 0
	var flagged uint16
	for _, e := range list {
		if e.out > t {
			list[j] = e
			j++
			if e.who < 0 {
				flagged++
			}
		}
	}
	s.infAt[v] = flagged
	return list[:j]
}

// disease draws the course of an infection and plans a fever-clinic PCR for
// most symptomatic cases, not before notBefore (e.g. arrival).
func (s *sim) disease(c *infection, notBefore int32) {
	c.onset = c.at + 3*day + int32(s.rng.IntN(int(3*day)))
	c.symptomatic = s.rng.IntN(100) < symptomaticPct
	if c.symptomatic && s.rng.IntN(100) < clinicPct {
		t := max(c.onset, notBefore) + 4*hour + int32(s.rng.IntN(int(44*hour)))
		s.later(item{t: t, kind: itemPCR, sub: pcrClinic, person: c.person})
	}
}

func (s *sim) addInfection(c infection) {
	s.cases = append(s.cases, c)
	s.people[c.person].inf = int32(len(s.cases))
}

// infect records that src infected q at venue v at t.
func (s *sim) infect(q, t, src, v int32) {
	c := infection{person: q, source: src, place: v, at: t, isolated: never,
		gen: s.cases[s.people[src].inf-1].gen + 1}
	s.disease(&c, t)
	s.addInfection(c)
}

// caseFound records a positive test of p's infection reported at rep: p is
// isolated from rep on. The first local case found in a district gets the
// H3 cell (resolution 8) of their home designated high; the second makes the
// district medium and the fourth high, each for 14 days from an hour after
// the report.
func (s *sim) caseFound(p, rep int32, origin uint8) {
	ci := &s.cases[s.people[p].inf-1]
	first := ci.isolated == never
	ci.isolated = min(ci.isolated, rep)
	if !first {
		return
	}
	s.nDetected++
	if origin == pcrArrival || s.people[p].arrive != noTime {
		return // an arrival: in quarantine or followed up, no local designation
	}
	home := s.people[p].home
	s.detected[home]++
	at := rep + hour
	switch s.detected[home] {
	case 1:
		lat, lng := s.homeLocation(p)
		cell := h3.LatLngToCell(h3.NewLatLng(float64(lat)/1e4, float64(lng)/1e4), 8)
		s.designate(areaH3, cell.String(), levelHigh, at, at+designationDays)
	case 2:
		s.designate(areaRegion, districts[home].code, levelMedium, at, at+designationDays)
	case 4:
		s.designate(areaRegion, districts[home].code, levelHigh, at, at+designationDays)
	}
}

// homeLocation is a stable point within about 3 km of p's district centre.
func (s *sim) homeLocation(p int32) (lat, lng int32) {
	d := districts[s.people[p].home]
	h := s.id.hash(uint64(p), 7)
	return d.lat + int32(h%541) - 270, d.lng + int32(h>>16%621) - 310
}

func (s *sim) designate(kind uint8, code string, level uint8, at, until int32) {
	s.desig = append(s.desig, designation{kind: kind, code: code, level: level, until: until})
	s.push(rec{kind: uint8(sources.StreamAreaRisk), at: at, occ: at, end: until, person: -1, ref: int32(len(s.desig) - 1)})
}
