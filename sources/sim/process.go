package sim

import (
	"math"
	"time"

	"healthcode/sources"
)

// rec is a message decided but not yet published: fixed-size and pointer-free.
// Which fields mean what depends on kind (a sources.Stream).
type rec struct {
	at     int32  // publication instant
	occ    int32  // occurred_at
	end    int32  // left_at, reported_at or until; noTime if absent
	person int32  // -1 for flights and area risk
	ref    int32  // venue, region, flight, designation, lab, product or reason
	seq    uint32 // event number within the stream; also seeds the details
	// drawn at encoding time (a travel location, an override's officers)
	temp  int16 // declaration temperature in 0.1 °C, 0 if absent
	kind  uint8
	sub   uint8 // test kind, symptom bits, override colour
	res   uint8 // test result, vaccine dose
	flags uint8
}

// rec.flags bits.
const (
	flagLocation uint8 = 1 // a travel record with a location
	flagJourney  uint8 = 2 // a declaration of the return journey of returnee ref
	flagAmended  uint8 = 4 // with flagJourney: the amendment
	flagBurst    uint8 = 8 // an override of the burst (Config.OverrideBurst)
	docShift           = 4 // flags >> docShift is the person's document kind
)

// Test kinds and results as written (rec.sub and rec.res for tests).
const (
	testPCR uint8 = iota + 1
	testAntigen
)

const (
	resNegative uint8 = iota + 1
	resPositive
	resInconclusive
)

// Lab kinds, rec.ref / 100 for tests; rec.ref % 100 is the district or city.
const (
	labCampaign int32 = iota
	labClinic
	labAirport
	labAntigen
)

const maxLate = int32(MaxLateness / time.Second)

// push assigns the message its event number and queues it for publication.
func (s *sim) push(r rec) {
	if r.at < s.cur || r.at < r.occ || r.at-r.occ > maxLate {
		panic("sim: bug: message published out of its window")
	}
	s.counters[r.kind]++
	r.seq = s.counters[r.kind]
	if r.person >= 0 {
		r.flags |= s.people[r.person].doc << docShift
	}
	s.cal.push(r, s.cur)
}

func (s *sim) process(it item) {
	switch it.kind {
	case itemDeclaration:
		s.declare(it.person, it.t)
	case itemVaccination:
		s.vaccinate(it.person, it.t)
	case itemPCR:
		s.pcr(it.person, it.t, it.sub, it.aux)
	case itemAntigen:
		s.antigen(it.person, it.t)
	case itemTravel:
		s.travel(it.person, it.t)
	case itemOverride:
		s.override(it.t, it.sub == overrideBurst)
	case itemFlight:
		s.land(it.aux, it.t)
	case itemJourney:
		s.declareJourney(it)
	case itemReturn:
		s.travelOn(it)
	case itemCountryRisk:
		cr := countryRisks[it.aux]
		s.cLevel[countryIndex(cr.code)] = cr.level
		until := noTime
		if cr.until > 0 {
			until = it.t + cr.until*day
		}
		s.designate(areaCountry, cr.code, cr.level, it.t, until)
	}
}

// present reports whether p is in the province at t.
func (s *sim) present(p, t int32) bool {
	a := s.people[p].arrive
	return a == noTime || a <= t
}

// free reports whether p can go out at t: present, not busy, not isolated.
func (s *sim) free(p, t int32) bool {
	pp := &s.people[p]
	if pp.busy > t || !s.present(p, t) {
		return false
	}
	return pp.inf == 0 || s.cases[pp.inf-1].isolated > t
}

var lnStay = math.Log(9) // stays last 20 minutes * 9^u: 20 min to 3 h

// checkin lets a random free person enter a venue at t.
func (s *sim) checkin(t int32) {
	p := int32(-1)
	for range 8 {
		if q := int32(s.rng.IntN(len(s.people))); s.free(q, t) {
			p = q
			break
		}
	}
	if p < 0 {
		return
	}
	v := s.pickVenue(p)
	out := t + int32(1200*math.Exp(s.rng.Float64()*lnStay))
	s.people[p].busy = out
	s.transmit(p, v, t, out)
	r := rec{kind: uint8(sources.StreamCheckins), at: out, occ: t, end: out, person: p, ref: v}
	if s.rng.IntN(100) < 12 { // no exit scan: published at entry
		r.at, r.end = t, noTime
	}
	s.push(r)
}

// pickVenue: 70% one of four regular venues in the home district, 25% any in
// the home city, 5% anywhere. Outside the regular ones a venue is picked in
// proportion to its popularity, 1 to 8 (a bounded skew, so that no venue
// gathers a crowd that grows with the population).
func (s *sim) pickVenue(p int32) int32 {
	home := int(s.people[p].home)
	r := s.rng.IntN(100)
	if r < 70 {
		lo, hi := s.distVenues[home], s.distVenues[home+1]
		return lo + int32(s.id.hash(uint64(p), 16+uint64(r&3))%uint64(hi-lo))
	}
	lo, hi := int32(0), int32(len(s.venues))
	if r < 95 {
		c := cities[districts[home].city]
		lo, hi = s.distVenues[c.first], s.distVenues[c.end]
	}
	for {
		v := lo + int32(s.rng.IntN(int(hi-lo)))
		if s.rng.IntN(8) <= int(s.id.hash(uint64(v), 9)%8) {
			return v
		}
	}
}

func (s *sim) declare(p, t int32) {
	if !s.present(p, t) {
		return
	}
	r := rec{kind: uint8(sources.StreamDeclarations), at: t, occ: t, end: noTime, person: p}
	if c := s.people[p].inf; c > 0 && s.cases[c-1].symptomatic && t >= s.cases[c-1].onset {
		for i, pct := range [...]int{85, 60, 50, 30, 30} {
			if s.rng.IntN(100) < pct {
				r.sub |= 1 << i
			}
		}
		if s.rng.IntN(10) < 9 {
			if r.sub&1 != 0 {
				r.temp = 373 + int16(s.rng.IntN(22))
			} else {
				r.temp = 365 + int16(s.rng.IntN(8))
			}
		}
	} else {
		switch x := s.rng.IntN(10000); {
		case x < 200:
			r.temp = 361 + int16(s.rng.IntN(11))
		case x < 300:
			r.sub = 1 << (1 + 3*(x&1)) // cough or sore throat
		case x < 305: // a cold
			r.sub = 1
			r.temp = 373 + int16(s.rng.IntN(6))
		}
	}
	s.push(r)
}

func (s *sim) vaccinate(p, t int32) {
	pp := &s.people[p]
	d := int16(t / day)
	if !s.free(p, t) || pp.doses >= 3 || d-pp.lastDose < 21 {
		return
	}
	pp.doses++
	pp.lastDose = d
	s.push(rec{kind: uint8(sources.StreamVaccinations), at: t, occ: t, end: noTime, person: p,
		ref: int32(s.id.hash(uint64(p), 8) % uint64(len(vaccineProducts))), res: pp.doses})
}

// pcr samples p at t; for an arrival test, city is where they landed.
func (s *sim) pcr(p, t int32, why uint8, city int32) {
	if !s.present(p, t) {
		return
	}
	pp := &s.people[p]
	res := resNegative
	if pp.inf > 0 && t >= s.cases[pp.inf-1].onset && s.rng.IntN(100) < pcrSensitivity {
		res = resPositive
	} else if s.rng.IntN(1000) < 2 {
		res = resInconclusive
	}
	var rep, lab int32
	switch why {
	case pcrCampaign:
		rep, lab = t+6*hour+int32(s.rng.IntN(int(18*hour))), labCampaign*100+int32(pp.home)
	case pcrArrival:
		rep, lab = t+6*hour+int32(s.rng.IntN(int(18*hour))), labAirport*100+city
	default:
		rep, lab = t+4*hour+int32(s.rng.IntN(int(8*hour))), labClinic*100+int32(pp.home)
	}
	s.push(rec{kind: uint8(sources.StreamTests), at: rep, occ: t, end: rep, person: p, ref: lab, sub: testPCR, res: res})
	if res == resPositive {
		s.caseFound(p, rep, why)
	}
}

func (s *sim) antigen(p, t int32) {
	if !s.present(p, t) {
		return
	}
	res := resNegative
	c := s.people[p].inf
	if c > 0 && t >= s.cases[c-1].onset && s.rng.IntN(100) < antigenSens || s.rng.IntN(1000) < antigenFalsePos {
		res = resPositive
	}
	rep := t + 15*minute + int32(s.rng.IntN(int(45*minute)))
	s.push(rec{kind: uint8(sources.StreamTests), at: rep, occ: t, end: rep, person: p, ref: labAntigen * 100, sub: testAntigen, res: res})
	if res == resPositive {
		s.later(item{t: rep + hour + int32(s.rng.IntN(int(3*hour))), kind: itemPCR, sub: pcrConfirm, person: p})
	}
}

// travel sends a free person on a trip: 60% to another district of the
// province, 40% elsewhere in China; 35% of trips last under 4 hours, the rest
// up to 3 days. The telecom operator reports the stay when it ends (10% are
// reported at the start, without left_at); half carry a location.
func (s *sim) travel(p, t int32) {
	if !s.free(p, t) {
		return
	}
	home := int(s.people[p].home)
	var dest int
	if s.rng.IntN(10) < 6 {
		dest = (home + 1 + s.rng.IntN(nDistricts-1)) % nDistricts
	} else {
		dest = nDistricts + s.rng.IntN(len(regions)-nDistricts)
	}
	var dur int32
	if s.rng.IntN(100) < 35 {
		dur = hour + int32(s.rng.IntN(int(3*hour-5*minute)))
	} else {
		dur = 4*hour + int32(s.rng.IntN(int(68*hour)))
	}
	left := t + dur
	s.people[p].busy = left
	r := rec{kind: uint8(sources.StreamTravel), at: left, occ: t, end: left, person: p, ref: int32(dest)}
	if s.rng.IntN(10) == 0 {
		r.at, r.end = t, noTime
	}
	if s.rng.IntN(2) == 0 {
		r.flags |= flagLocation
	}
	s.push(r)
}

// override corrects a random person's colour: mostly to green after an
// appeal, sometimes to red or yellow on a command centre's order. A burst
// override (Config.OverrideBurst) sends someone to red.
func (s *sim) override(t int32, burst bool) {
	p := int32(-1)
	for range 16 {
		if q := int32(s.rng.IntN(len(s.people))); s.present(q, t) {
			p = q
			break
		}
	}
	if p < 0 {
		return
	}
	r := rec{kind: uint8(sources.StreamOverrides), at: t, occ: t, person: p}
	switch x := s.rng.IntN(20); {
	case burst:
		r.sub, r.ref, r.end, r.flags = 2, 3, t+14*day, flagBurst
	case x < 17:
		r.sub, r.ref, r.end = 0, int32(x%3), t+7*day
	case x < 19:
		r.sub, r.ref, r.end = 2, 3, t+14*day
	default:
		r.sub, r.ref, r.end = 1, 4, t+14*day
	}
	s.push(r)
}

// land publishes flight f's manifest on arrival, quarantines everyone aboard
// for 14 days if the origin is high-risk now, and tests everyone.
func (s *sim) land(fi, t int32) {
	f := &s.flights[fi]
	s.push(rec{kind: uint8(sources.StreamFlights), at: t, occ: t, end: noTime, person: -1, ref: fi})
	f.level = s.cLevel[countryIndex(f.route.country)]
	high := f.level == levelHigh
	city := int32(0)
	if f.route.dest == cities[1].airport {
		city = 1
	}
	for i, q := range f.pax {
		if high {
			s.people[q].busy = t + quarantineHigh
		}
		// A travel-on is tested once in the province, and is there from
		// their travel record on.
		in := t
		if rt := &s.returnees[f.rtFirst+int32(i)]; rt.kind&rtTravelOn != 0 {
			in = rt.arrive
			s.later(item{t: rt.arrive, kind: itemReturn, person: q, aux: f.rtFirst + int32(i)})
		}
		s.later(item{t: in + hour + int32(s.rng.IntN(int(2*hour))), kind: itemPCR, sub: pcrArrival, person: q, aux: city})
	}
}

// overrideBurst is item.sub of a burst override.
const overrideBurst = 1

// nStreams sizes arrays indexed by sources.Stream.
const nStreams = int(sources.StreamOverrides) + 1
