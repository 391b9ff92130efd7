package sim

// Building the province before the first second: people, venues, flights
// and who is aboard them, index and imported cases.

func (s *sim) setup() {
	s.setupPeople()
	s.setupVenues()
	s.setupFlights()
}

func (s *sim) setupPeople() {
	n := s.cfg.People
	s.people = make([]person, n)
	for i := range s.people {
		p := int32(i)
		pp := &s.people[i]
		pp.arrive = noTime
		pp.busy = noTime
		pp.doc = s.id.docKind(p)
		h := s.id.hash(uint64(p), 6)
		if pp.doc == docResident {
			d, _, _ := s.id.resident(p)
			pp.home = uint8(d)
		} else {
			pp.home = uint8(h % uint64(nDistricts))
		}
		switch h >> 8 % 10 {
		case 0, 1, 2:
			pp.doses = 0
		case 3, 4, 5:
			pp.doses = 1
		default:
			pp.doses = 2
		}
		pp.lastDose = -int16(30 + h>>16%200)
	}
}

func (s *sim) setupVenues() {
	n := max(s.cfg.People/50, 2*nDistricts)
	s.venues = make([]venue, n)
	s.occ = make([][]stay, n)
	s.infAt = make([]uint16, n)
	i := 0
	for d := range nDistricts {
		s.distVenues[d] = int32(i)
		k := n / nDistricts
		if d < n%nDistricts {
			k++
		}
		for j := range k {
			v := &s.venues[i]
			v.dist = uint8(d)
			v.num = int32(j + 1)
			v.kind = uint8(s.rng.IntN(len(venueKinds)))
			// Within about 3 km of the district centre (a disc, not a square).
			for {
				dx, dy := s.rng.Float64()*2-1, s.rng.Float64()*2-1
				if dx*dx+dy*dy <= 1 {
					v.lat = districts[d].lat + int32(dy*270)
					v.lng = districts[d].lng + int32(dx*310)
					break
				}
			}
			i++
		}
	}
	s.distVenues[nDistricts] = int32(i)
}

// setupFlights schedules every flight and picks who is aboard: people abroad
// at Start, who enter the province when their flight lands. At most a quarter
// of the population flies; small populations get smaller flights.
func (s *sim) setupFlights() {
	var foreign []int32
	for i := range s.people {
		if s.people[i].doc == docPassport {
			foreign = append(foreign, int32(i))
		}
	}
	s.rng.Shuffle(len(foreign), func(i, j int) { foreign[i], foreign[j] = foreign[j], foreign[i] })
	for _, cr := range countryRisks {
		if cr.day == 0 {
			s.cLevel[countryIndex(cr.code)] = cr.level
		}
	}
	budget := s.cfg.People / 4
	total := s.cfg.Days * s.cfg.Flights
	var seats [360]int16
	var imported []infection
	for d := range s.cfg.Days {
		w0 := int32(d) * day
		for k := range s.cfg.Flights {
			left := total - (d*s.cfg.Flights + k)
			n := min(100+s.rng.IntN(201), budget/left)
			crew := min(4+s.rng.IntN(9), n/10)
			if n < 1 {
				continue
			}
			r := routeFor(k)
			if s.cfg.Flights < len(baseRoutes) { // rotate through origins
				r = routeFor((k + d*s.cfg.Flights) % len(baseRoutes))
			}
			f := flight{route: r, day: d, arrived: s.at(w0, r.arrive)}
			f.departed = f.arrived - r.dur
			for i := range seats {
				seats[i] = int16(i)
			}
			for i := range n {
				q := s.pickTraveller(&foreign)
				if q < 0 {
					break
				}
				seat := int16(-1)
				if i >= crew {
					j := i + s.rng.IntN(len(seats)-i)
					seats[i], seats[j] = seats[j], seats[i]
					seat = seats[i]
				}
				f.pax = append(f.pax, q)
				f.seat = append(f.seat, seat)
				pp := &s.people[q]
				pp.arrive = f.arrived
				pp.busy = f.arrived + 2*hour
				if c, ok := s.importedInfection(q, &f); ok {
					imported = append(imported, c)
				}
			}
			if len(f.pax) == 0 {
				continue
			}
			budget -= len(f.pax)
			s.flights = append(s.flights, f)
		}
	}
	s.setupReturnees()
	s.seedIndexCases()
	for _, c := range imported {
		s.addInfection(c)
	}
	s.nImported = len(imported)
}

// pickTraveller returns someone still abroad to board a flight: a foreigner
// (about 30%) or a resident returning home; -1 if nobody is left.
func (s *sim) pickTraveller(foreign *[]int32) int32 {
	if len(*foreign) > 0 && s.rng.IntN(10) < 3 {
		q := (*foreign)[0]
		*foreign = (*foreign)[1:]
		return q
	}
	for range 32 {
		q := int32(s.rng.IntN(len(s.people)))
		if pp := &s.people[q]; pp.doc == docResident && pp.arrive == noTime {
			return q
		}
	}
	return -1
}

// importedInfection decides whether a passenger caught the disease abroad:
// 1% from high-risk countries, 0.5% from medium, 0.1% from others.
func (s *sim) importedInfection(q int32, f *flight) (infection, bool) {
	ci := countryIndex(f.route.country)
	p := 1
	switch s.cLevel[ci] {
	case levelHigh:
		p = 10
	case levelMedium:
		p = 5
	}
	if s.rng.IntN(1000) >= p {
		return infection{}, false
	}
	c := infection{person: q, source: -1, place: placeAbroad0 - int32(ci), isolated: never}
	c.at = f.departed - int32(s.rng.IntN(int(5*day)))
	s.disease(&c, f.arrived)
	return c, true
}

// seedIndexCases infects Config.Cases residents present from the start, at Start.
func (s *sim) seedIndexCases() {
	for n, tries := 0, 0; n < s.cfg.Cases && tries < 100*s.cfg.People; tries++ {
		q := int32(s.rng.IntN(len(s.people)))
		if pp := &s.people[q]; pp.arrive != noTime || pp.inf != 0 {
			continue
		}
		c := infection{person: q, source: -1, place: placeIndex, at: 0, isolated: never}
		s.disease(&c, 0)
		s.addInfection(c)
		n++
		s.nIndex++
	}
}
