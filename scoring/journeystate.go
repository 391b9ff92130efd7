package scoring

import (
	"hash/fnv"
	"strings"
	"time"
)

// The cold journey record: one per person who declared a return journey or
// arrived on a flight (most persons have none). Everything in it is a
// function of the set of events applied, so a manifest before the
// declaration gives the same status as after it:
//
//   - the declaration in force: the latest by occurred_at, ties to the
//     smallest event id (an amended declaration replaces the one before);
//   - the person's maxLegs latest flight legs (manifests), newest first;
//   - the maxProv earliest presences in the province (check-ins, travel stays
//     in a region of the province) at or after the latest landing from abroad;
//   - what was last emitted: the version and a hash of the row, and the next
//     time the row changes by the clock alone (a departure or a landing
//     announced ahead; rule changes are the colour's review times).
//
// A travel stay in the province also sets Facts.Province for every person,
// record or not, so a travel record processed before the person's first
// manifest or declaration still counts. A check-in counts only for a person
// who already has a record (check-ins are most of the input: recording one
// for everyone would write a state record per check-in).
const (
	maxLegs = 4
	maxProv = 4
)

// leg is one flight of a person, from a manifest.
type leg struct {
	arrived, departed Time
	place, id         Ref     // NUMBER/DATE and the manifest's event id
	origin, dest      [3]byte // origin country, destination airport
}

type journey struct {
	declAt, planned Time
	floor           Time // manifests arriving before this belong to an earlier trip (derived)
	declRef         Ref  // the declaration's event id
	cityRef         Ref  // origin city
	placeRef        Ref  // "PORT REGION FLIGHT..." (JourneyEvent)
	origin          [3]byte
	legs            []leg         // newest first, at most maxLegs
	prov            [maxProv]Time // ascending
	version, hash   uint32
	next            Time
	// arrivals are the two latest arrivals from abroad, newest first: the
	// facts the arrival rules count from. A record loaded from a state
	// record older than journeys may hold only these (held is false).
	arrivals [2]Arrival
}

// held reports whether j is a journey record: a declaration or a flight.
func (j *journey) held() bool { return j != nil && (j.declAt != 0 || len(j.legs) != 0) }

func code3(s string) (c [3]byte) {
	if len(s) == 3 {
		copy(c[:], s)
	}
	return c
}

func codeString(c [3]byte) string {
	if c == [3]byte{} {
		return ""
	}
	return string(c[:])
}

// journeyFloor is the earliest arrival a declaration can be about: a day
// before its earliest flight's date, or the declaration itself if earlier.
func journeyFloor(declAt Time, place string) Time {
	floor := declAt
	_, flights := splitJourneyPlace(place)
	for f := range strings.SplitSeq(flights, " ") {
		if d, ok := flightDay(f); ok {
			floor = min(floor, d.Add(-24*time.Hour))
		}
	}
	return floor
}

// applyJourney records a journey declaration; the latest one stands.
func (e *Engine) applyJourney(idx uint32, f *Facts, ev *Event) bool {
	j := e.journeyOf(idx, f)
	if ev.At < j.declAt || (ev.At == j.declAt && ev.ID >= e.strs.Get(j.declRef)) {
		return false
	}
	j.declAt, j.planned, j.origin = ev.At, ev.End, code3(ev.Country)
	f.flags |= declared
	j.declRef, j.cityRef, j.placeRef = e.strs.Put(ev.ID), e.strs.Put(ev.Text), e.strs.Put(ev.Place)
	j.floor = journeyFloor(ev.At, ev.Place)
	e.pruneProvince(j)
	return true
}

// addLeg records a flight arrival (any origin), keeping the maxLegs latest.
func (e *Engine) addLeg(idx uint32, f *Facts, ev *Event) bool {
	j := e.journeyOf(idx, f)
	for i := range j.legs {
		l := &j.legs[i]
		if l.arrived == ev.At && e.strs.Get(l.place) == ev.Place {
			if ev.ID < e.strs.Get(l.id) { // the same leg on another manifest: the smallest id stands
				l.id = e.strs.Put(ev.ID)
				return true
			}
			return false
		}
	}
	pos := len(j.legs)
	for i := range j.legs {
		l := &j.legs[i]
		if ev.At > l.arrived || (ev.At == l.arrived && ev.Place < e.strs.Get(l.place)) {
			pos = i
			break
		}
	}
	if pos == maxLegs {
		return false
	}
	if len(j.legs) < maxLegs {
		j.legs = append(j.legs, leg{})
	}
	copy(j.legs[pos+1:], j.legs[pos:len(j.legs)-1])
	j.legs[pos] = leg{arrived: ev.At, departed: ev.End, place: e.strs.Put(ev.Place), id: e.strs.Put(ev.ID),
		origin: code3(ev.Country), dest: code3(ev.Text)}
	e.pruneProvince(j)
	return true
}

// provinceBase is the earliest presence time the record keeps: the latest
// landing from abroad, or the declaration's floor.
func provinceBase(j *journey) Time {
	base := j.floor
	for _, l := range j.legs {
		if l.arrived != 0 && l.origin != [3]byte{} && l.origin != [3]byte{'C', 'H', 'N'} {
			base = max(base, l.arrived)
			break // newest first
		}
	}
	return base
}

// pruneProvince drops the presences before the base.
func (e *Engine) pruneProvince(j *journey) {
	base := provinceBase(j)
	keep := j.prov[:0:maxProv]
	for _, t := range j.prov {
		if t != 0 && t >= base {
			keep = append(keep, t)
		}
	}
	var out [maxProv]Time
	copy(out[:], keep)
	j.prov = out
}

// addProvince records a presence in the province at t for a person with a
// journey record.
func (e *Engine) addProvince(idx uint32, f *Facts, t Time) bool {
	j := e.journeyIf(idx, f)
	if !j.held() || t == 0 || t < provinceBase(j) {
		return false
	}
	for i, x := range j.prov {
		switch {
		case x == t:
			return false
		case x == 0 || t < x:
			copy(j.prov[i+1:], j.prov[i:maxProv-1])
			j.prov[i] = t
			return true
		}
	}
	return false
}

// inProvince reports whether a GB/T 2260 region code lies in the policy's province.
func (jo *Journeys) inProvince(region string) bool {
	return len(region) == 6 && strings.HasPrefix(region, jo.Province)
}

// isPort reports whether an airport is one of the province's.
func (jo *Journeys) isPort(c [3]byte) bool {
	for _, p := range jo.Ports {
		if p == string(c[:]) {
			return true
		}
	}
	return false
}

// declarationRequired reports whether a person with journey record j (nil
// if none) is to be told that no code is issued before a declaration: the
// policy says so and they have none.
func (e *Engine) declarationRequired(j *journey) bool {
	return e.policy.Journeys.RequireDeclaration && (j == nil || j.declAt == 0)
}

// journeyView derives the journey row of a declared journey at now, from the
// record, the facts and the decision d of the same instant. next is the next
// time the row changes by the clock alone, outside the decision's review.
func (e *Engine) journeyView(ps *person, d *Decision, now Time) (v JourneyUpdate, next Time) {
	p := e.policy
	f, j := ps.f, ps.j
	place := e.strs.Get(j.placeRef)
	jev := Event{Place: place, Country: codeString(j.origin), Text: e.strs.Get(j.cityRef), End: j.planned}
	v.Journey, _ = jev.Journey()
	v.Status, v.DeclaredAt, v.ID = JourneyDeclared, j.declAt, e.strs.Get(j.declRef)
	soon := func(t Time) {
		if t > now && (next == 0 || t < next) {
			next = t
		}
	}
	land, board := e.journeyLegs(j)
	if board != nil {
		soon(board.departed)
		if board.departed != 0 && board.departed <= now {
			v.Status, v.BoardedAt = JourneyBoarded, board.departed
		}
	}
	if land == nil {
		return v, next
	}
	soon(land.arrived)
	if land.arrived > now {
		return v, next
	}
	v.Status, v.LandedAt = JourneyLanded, land.arrived
	if v.BoardedAt == 0 {
		v.BoardedAt = land.departed
	}
	v.LandedPort, v.LandedFlight = codeString(land.dest), e.strs.Get(land.place)
	v.OtherFlight = !e.declaredFlight(j, land.place)
	v.ArrivedAt = e.provinceArrival(f, j, land, now)

	// The arrival rules: the one now applying (the highest), and the window
	// of those anchored on this landing.
	top := -1
	for _, a := range d.All {
		if a.Rule >= 0 && isArrivalFact(p.Rules[a.Rule].Fact) && (top < 0 || p.Rules[a.Rule].level > p.Rules[top].level) {
			top = a.Rule
		}
	}
	if top >= 0 {
		v.Rule = p.Rules[top].ID
	}
	if v.ArrivedAt == 0 {
		return v, next
	}
	v.Status = JourneyArrived
	jf := e.journeyFactsOf(ps)
	var started, ended Time
	applied, pending := false, false
	for i := range p.Rules {
		r := &p.Rules[i]
		if !isArrivalFact(r.Fact) {
			continue
		}
		a, _, _ := e.anchorOf(ps, &jf, r.Fact)
		if a == 0 || a < land.arrived {
			continue
		}
		applied = true
		s := a.Add(r.From.Std())
		pending = pending || s > now
		if started == 0 || s < started {
			started = s
		}
		if r.For > 0 {
			ended = max(ended, a.Add(r.For.Std()))
		}
	}
	switch {
	case top >= 0:
		v.Status, v.QuarantineAt = JourneyQuarantine, max(v.ArrivedAt, started)
	case applied && !pending:
		end := ended
		if end == 0 || end > now {
			end = f.Neg[0] // cleared by a test before its time
		}
		v.Status, v.ReleasedAt = JourneyReleased, max(end, v.ArrivedAt)
		if end > v.ArrivedAt {
			v.QuarantineAt = max(v.ArrivedAt, started)
		}
	}
	return v, next
}

// provinceArrival is when a person who landed (land) reached the province:
// the landing itself at a port of the province; else the earliest, at or
// after the landing, of a flight to a port of the province, a presence in the
// province, or the latest travel stay there; 0 if none yet.
func (e *Engine) provinceArrival(f *Facts, j *journey, land *leg, now Time) Time {
	jo := &e.policy.Journeys
	if jo.isPort(land.dest) {
		return land.arrived
	}
	best := Time(0)
	take := func(t Time) {
		if t != 0 && t >= land.arrived && t <= now && (best == 0 || t < best) {
			best = t
		}
	}
	for _, l := range j.legs {
		if l.arrived > land.arrived && jo.isPort(l.dest) {
			take(l.arrived)
		}
	}
	for _, t := range j.prov {
		take(t)
	}
	take(f.Province)
	return best
}

// hash summarises what a journey row shows.
func (v *JourneyUpdate) hash() uint32 {
	h := fnv.New32a()
	var b [4]byte
	put := func(x uint32) {
		b[0], b[1], b[2], b[3] = byte(x), byte(x>>8), byte(x>>16), byte(x>>24)
		h.Write(b[:])
	}
	str := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	put(uint32(v.Status))
	for _, t := range [...]Time{v.DeclaredAt, v.BoardedAt, v.LandedAt, v.ArrivedAt, v.QuarantineAt, v.ReleasedAt, v.Journey.Planned} {
		put(uint32(t))
	}
	for _, s := range [...]string{v.ID, v.Journey.Origin, v.Journey.City, v.Journey.Port, v.Journey.Region, v.LandedPort, v.LandedFlight, v.Rule} {
		str(s)
	}
	for _, s := range v.Journey.Flights {
		str(s)
	}
	if v.OtherFlight {
		put(1)
	}
	return h.Sum32()
}

// checkJourney emits the journey row of person idx if what it shows changed,
// and keeps the journey's timer.
func (e *Engine) checkJourney(idx uint32, ps *person, d *Decision, now, effective Time) {
	j := ps.j
	if j == nil || j.declAt == 0 {
		return
	}
	v, next := e.journeyView(ps, d, now)
	if next != j.next {
		j.next = next
		if next != 0 {
			e.timers.push(timer{at: next, idx: idx})
		}
		e.markDirty(idx)
	}
	h := v.hash()
	if j.version != 0 && h == j.hash {
		return
	}
	j.version++
	j.hash = h
	e.markDirty(idx)
	v.Person, v.Version, v.Effective = ps.f.Person, j.version, effective
	e.jout = append(e.jout, v)
}

// journeyTimer reports whether a timer at t is person idx's journey timer.
func (e *Engine) journeyTimer(idx uint32, t Time) bool {
	j := e.journeyIf(idx, &e.facts[idx])
	return j != nil && j.next == t
}

// TakeJourneys returns the journey rows issued since the last call.
func (e *Engine) TakeJourneys() []JourneyUpdate {
	out := e.jout
	e.jout = nil
	return out
}

// JourneyAt returns person k's journey row as it would be decided at now,
// without changing anything (for explanation and tests). ok is false for a
// person without a declared journey.
func (e *Engine) JourneyAt(k PersonKey, now Time) (JourneyUpdate, bool) {
	idx, ok := e.index.get(&k, e.facts)
	if !ok {
		return JourneyUpdate{}, false
	}
	ps := e.person(idx)
	j := ps.j
	if j == nil || j.declAt == 0 {
		return JourneyUpdate{}, false
	}
	d := e.decide(&ps, now, nil)
	v, _ := e.journeyView(&ps, &d, now)
	v.Person, v.Version = k, j.version
	return v, true
}
