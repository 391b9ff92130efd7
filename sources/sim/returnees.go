package sim

import (
	"bufio"
	"encoding/json"
	"io"
	"time"

	"healthcode/scoring"
	"healthcode/sources"
)

// Returnees: everyone aboard a flight from abroad, and a few residents who
// declare a journey they do not make in the run. Most passengers declare
// their return journey on src.declarations before departure; some do not
// (and crew never do); some declared another flight and half of those amend
// the declaration; the passengers of flights landing at a port outside the
// province (routes to PEK, PVG, CAN, SZX) travel on and enter the province
// hours later, which a travel record in their home district shows. Every
// choice is a hash of the person (identity.hash), never a draw from the run's
// random stream, so the rest of the run is what it was without returnees.
//
// The journey truth (Config.Journeys) says per returnee whether they declared
// and the status their journey row must have at the end: the status the
// policy's arrival rules give at the latest occurred_at of the run, from the
// messages emitted.

// Returnee kinds (returnee.kind bits).
const (
	rtDeclared uint8 = 1 << iota // declares the journey
	rtChanged                    // first declares another flight (the next day's)
	rtAmended                    // then amends it to the flight taken
	rtCrew                       // crew: never declares
	rtTravelOn                   // lands outside the province and travels on
	rtNoShow                     // declares a flight of the run and does not board it
	rtFuture                     // declares a flight after the run
)

// Hash salts of the returnee choices, far from the other uses of hash.
const (
	saltReturnee = 1<<32 + iota
	saltDeclareAhead
	saltTrain
	saltExtra
)

// returnee is one returnee's plan: fixed-size, pointer-free.
type returnee struct {
	person    int32
	flight    int32 // index in s.flights, -1 for no-shows and future journeys
	route     int32 // no-shows and future journeys: the route declared
	day       int32 // and its day from Start
	decl      int32 // the declaration; noTime if none
	amend     int32 // the amendment; noTime if none
	arrive    int32 // in the province (a travel-on's travel record); noTime if not
	travelled bool  // the travel record was published
	kind      uint8
}

// airportCities names the origin airports' cities (journey.origin.city).
var airportCities = map[string]string{
	"FRA": "Frankfurt", "MXP": "Milano", "MUC": "München", "CDG": "Paris", "MAD": "Madrid", "JFK": "New York",
	"LAX": "Los Angeles", "LHR": "London", "NRT": "Tokyo", "ICN": "Seoul", "IKA": "Tehran", "BKK": "Bangkok",
	"SIN": "Singapore", "SVO": "Moscow", "DXB": "Dubai", "SYD": "Sydney", "FCO": "Roma", "SFO": "San Francisco",
}

// provincePort reports whether flights to airport land in the province.
func provincePort(airport string) bool {
	for _, c := range cities {
		if c.airport == airport {
			return true
		}
	}
	return false
}

// setupReturnees plans the returnees of the flights set up, and the extra
// declarers; it moves the travel-ons' entry into the province to after their
// train.
func (s *sim) setupReturnees() {
	end := int32(s.cfg.Days) * day
	for fi := range s.flights {
		f := &s.flights[fi]
		f.rtFirst = int32(len(s.returnees))
		for i, q := range f.pax {
			h := s.id.hash(uint64(q), saltReturnee)
			rt := returnee{person: q, flight: int32(fi), decl: noTime, amend: noTime, arrive: f.arrived}
			switch {
			case f.seat[i] < 0:
				rt.kind = rtCrew
			case h%100 >= 10: // 90% of passengers declare
				rt.kind = rtDeclared
				if h>>8%100 < 12 {
					rt.kind |= rtChanged
					if h>>16%2 == 0 {
						rt.kind |= rtAmended
					}
				}
			}
			if !provincePort(f.route.dest) {
				rt.kind |= rtTravelOn
				rt.arrive = f.arrived + 3*hour + int32(s.id.hash(uint64(q), saltTrain)%uint64(5*hour))
				pp := &s.people[q]
				pp.arrive, pp.busy = rt.arrive, rt.arrive+2*hour
			}
			if rt.kind&rtDeclared != 0 {
				// Six hours to five days before departure, not before Start,
				// and before landing.
				ahead := 6*hour + int32(s.id.hash(uint64(q), saltDeclareAhead)%uint64(4*day+18*hour))
				rt.decl = max(f.departed-ahead, 0)
				if rt.decl >= f.arrived {
					rt.decl = f.arrived / 2
				}
				if rt.kind&rtAmended != 0 {
					rt.amend = rt.decl + max((min(f.departed, f.arrived)-rt.decl)/2, 1)
				}
			}
			s.returnees = append(s.returnees, rt)
		}
	}
	// Residents at home who declare a journey: one in 1000 a flight of the
	// run they do not take, one in 1000 a flight after the run.
	for i := range s.people {
		p := int32(i)
		pp := &s.people[i]
		h := s.id.hash(uint64(p), saltExtra)
		if pp.arrive != noTime || pp.doc != docResident || h%1000 >= 2 {
			continue
		}
		rt := returnee{person: p, flight: -1, amend: noTime, arrive: noTime, kind: rtDeclared | rtNoShow,
			route: int32(h >> 10 % uint64(len(baseRoutes)))}
		rt.day = int32(h >> 20 % uint64(s.cfg.Days))
		if h%1000 == 1 {
			rt.kind = rtDeclared | rtFuture
			rt.day = int32(s.cfg.Days) + 1 + int32(h>>30%5)
		}
		rt.decl = min(max(rt.day*day-2*day, 0)+int32(h>>40%uint64(day)), end-1)
		s.returnees = append(s.returnees, rt)
	}
}

// planJourneys adds day d's declarations and amendments to the schedule.
func (s *sim) planJourneys(d int, add func(item)) {
	w0 := int32(d) * day
	for i := range s.returnees {
		rt := &s.returnees[i]
		if rt.decl != noTime && rt.decl >= w0 && rt.decl < w0+day {
			add(item{t: rt.decl, kind: itemJourney, person: rt.person, aux: int32(i)})
		}
		if rt.amend != noTime && rt.amend >= w0 && rt.amend < w0+day {
			add(item{t: rt.amend, kind: itemJourney, person: rt.person, aux: int32(i), sub: 1})
		}
	}
}

// declareJourney publishes a returnee's declaration (amended: the amendment).
func (s *sim) declareJourney(it item) {
	flags := flagJourney
	if it.sub == 1 {
		flags |= flagAmended
	}
	s.push(rec{kind: uint8(sources.StreamDeclarations), at: it.t, occ: it.t, end: noTime, person: it.person, ref: it.aux, flags: flags})
}

// travelOn publishes a travel-on's entry into the province: a stay in their
// home district from now, reported when it starts.
func (s *sim) travelOn(it item) {
	rt := &s.returnees[it.aux]
	rt.travelled = true
	s.push(rec{kind: uint8(sources.StreamTravel), at: it.t, occ: it.t, end: noTime, person: it.person, ref: int32(s.people[it.person].home)})
}

// declaredFlight is the flight a declaration names and its planned arrival:
// the flight taken, the next day's for a changed one not (yet) amended, or
// the route declared by a no-show or a future returnee.
func (s *sim) declaredFlight(rt *returnee, amended bool) (r route, departed, arrived int32) {
	if rt.flight < 0 {
		r = routeFor(int(rt.route))
		arrived = s.at(rt.day*day, r.arrive)
		return r, arrived - r.dur, arrived
	}
	f := &s.flights[rt.flight]
	departed, arrived = f.departed, f.arrived
	if rt.kind&rtChanged != 0 && !amended {
		departed, arrived = departed+day, arrived+day
	}
	return f.route, departed, arrived
}

// appendJourney appends the journey object of a declaration.
func (o *output) appendJourney(b []byte, rt *returnee, amended bool) []byte {
	s := o.s
	r, departed, arrived := s.declaredFlight(rt, amended)
	b = append(b, `,"journey":{"origin":{"country":"`...)
	b = append(b, r.country...)
	b = append(b, `","city":"`...)
	b = append(b, airportCities[r.airport]...)
	b = append(b, `"},"flights":[{"number":"`...)
	b = append(b, r.number...)
	b = append(b, `","date":"`...)
	b = appendDate(b, s.start+int64(departed))
	b = append(b, `"}],"port_of_entry":"`...)
	b = append(b, r.dest...)
	b = append(b, `","destination_region":"`...)
	b = append(b, districts[s.people[rt.person].home].code...)
	b = append(b, `","planned_arrival":"`...)
	b = appendTime(b, s.start+int64(arrived))
	return append(b, `"}`...)
}

// JourneyTruth is one line of the journey truth Run writes to
// Config.Journeys: a returnee (a passenger of a flight from abroad, or a
// resident who declared a journey), by person key.
type JourneyTruth struct {
	PersonKey string `json:"person_key"`
	// Declared: they declared a return journey, so return_journeys has a row
	// for them; Status is that row's status at the end of the run.
	Declared bool   `json:"declared"`
	Status   string `json:"status,omitempty"`
	// Kind is "passenger", "crew", "no_show" (declared a flight of the run
	// and did not board) or "future" (declared a flight after the run).
	Kind        string `json:"kind"`
	Changed     bool   `json:"changed,omitempty"`      // declared another flight first
	Amended     bool   `json:"amended,omitempty"`      // and amended the declaration
	OtherFlight bool   `json:"other_flight,omitempty"` // landed on a flight the declaration in force does not name
	TravelOn    bool   `json:"travel_on,omitempty"`    // landed outside the province
	Port        string `json:"port,omitempty"`         // where they landed
	// PlannedArrival is the declaration in force's planned arrival.
	PlannedArrival time.Time `json:"planned_arrival,omitzero"`
}

// journeyTruth is a returnee's truth at the end of the run (now: the latest
// occurred_at emitted), under the policy's arrival rules.
func (s *sim) journeyTruth(rt *returnee, now int32) JourneyTruth {
	jt := JourneyTruth{PersonKey: s.key(rt.person), Declared: rt.kind&rtDeclared != 0,
		Changed: rt.kind&rtChanged != 0, Amended: rt.kind&rtAmended != 0, TravelOn: rt.kind&rtTravelOn != 0}
	switch {
	case rt.kind&rtCrew != 0:
		jt.Kind = "crew"
	case rt.kind&rtNoShow != 0:
		jt.Kind = "no_show"
	case rt.kind&rtFuture != 0:
		jt.Kind = "future"
	default:
		jt.Kind = "passenger"
	}
	if jt.Declared {
		_, _, planned := s.declaredFlight(rt, jt.Amended)
		jt.PlannedArrival = time.Unix(s.start+int64(planned), 0).In(s.loc)
	}
	if rt.flight < 0 {
		if jt.Declared {
			jt.Status = scoring.JourneyDeclared.String()
		}
		return jt
	}
	f := &s.flights[rt.flight]
	jt.Port = f.route.dest
	if !jt.Declared {
		return jt
	}
	jt.OtherFlight = jt.Changed && !jt.Amended
	status := scoring.JourneyLanded // every manifest of the run is published at landing
	arrived := noTime
	switch {
	case provincePort(f.route.dest):
		arrived = f.arrived
	case rt.travelled:
		arrived = rt.arrive
	}
	if arrived != noTime && arrived <= now {
		status = s.ruleStatus(f, jt.OtherFlight, now)
	}
	jt.Status = status.String()
	return jt
}

// ruleStatus is the status of a journey in the province under the policy's
// arrival rules at now: quarantine while one holds, released once those that
// applied have ended, arrived if none applied. Arrival rules clear by time
// in the shipped policies; a test-cleared one is judged by its time alone.
func (s *sim) ruleStatus(f *flight, otherFlight bool, now int32) scoring.JourneyStatus {
	level := f.level
	applied, active, pending := false, false, false
	for i := range s.cfg.Policy.Rules {
		r := &s.cfg.Policy.Rules[i]
		var holds bool
		switch r.Fact {
		case scoring.FactArrivalAbroad:
			holds = true
		case scoring.FactArrivalHigh:
			holds = level == levelHigh
		case scoring.FactArrivalMedium:
			holds = level == levelMedium
		case scoring.FactArrivalOtherFlight:
			holds = otherFlight
		}
		if !holds {
			continue
		}
		applied = true
		start := f.arrived + int32(r.From.Std().Seconds())
		ended := r.For > 0 && now >= f.arrived+int32(r.For.Std().Seconds())
		switch {
		case now < start:
			pending = true
		case !ended:
			active = true
		}
	}
	switch {
	case active:
		return scoring.JourneyQuarantine
	case applied && !pending:
		return scoring.JourneyReleased
	}
	return scoring.JourneyArrived
}

func (s *sim) writeJourneys(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range s.returnees {
		if err := enc.Encode(s.journeyTruth(&s.returnees[i], s.out.maxOcc)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadJourneys reads the journey truth Run wrote.
func ReadJourneys(r io.Reader) ([]JourneyTruth, error) {
	var out []JourneyTruth
	dec := json.NewDecoder(r)
	for dec.More() {
		var j JourneyTruth
		if err := dec.Decode(&j); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}
