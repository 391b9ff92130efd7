package sim

import (
	"fmt"
	"strconv"
	"time"

	"healthcode/sources"
)

// output encodes due messages as the JSON of docs/contract.md with appends into reused
// buffers (no reflection, no allocation per message) and hands them to emit.
type output struct {
	s      *sim
	emit   func(Message) error
	key    []byte
	val    []byte
	idPref [nStreams]string // "sim-s1-checkins-"
	source [nStreams]string
	count  [nStreams]int
	bytes  int64
	maxOcc int32 // the latest occurred_at written: the pipeline's event clock at the end
}

var sourceNames = map[sources.Stream]string{
	sources.StreamFlights:      "sim-customs",
	sources.StreamTravel:       "sim-telecom",
	sources.StreamTests:        "sim-lab",
	sources.StreamCheckins:     "sim-venue-app",
	sources.StreamVaccinations: "sim-vaccination-registry",
	sources.StreamDeclarations: "sim-declaration-platform",
	sources.StreamAreaRisk:     "sim-command-centre",
	sources.StreamOverrides:    "sim-appeals-desk",
}

func (o *output) init(s *sim, emit func(Message) error) {
	o.s, o.emit = s, emit
	o.key = make([]byte, 0, 64)
	o.val = make([]byte, 0, 1024)
	for _, st := range sources.Streams {
		o.idPref[st] = fmt.Sprintf("sim-s%d-%s-", s.cfg.Seed, st)
		o.source[st] = sourceNames[st]
	}
}

// write encodes r and emits it.
func (o *output) write(r *rec) error {
	s := o.s
	st := sources.Stream(r.kind)
	o.maxOcc = max(o.maxOcc, r.occ)
	b := append(o.val[:0], `{"event_id":"`...)
	idStart := len(b)
	b = append(b, o.idPref[st]...)
	b = strconv.AppendUint(b, uint64(r.seq), 10)
	idEnd := len(b)
	b = append(b, `","source":"`...)
	b = append(b, o.source[st]...)
	b = append(b, `","occurred_at":"`...)
	b = appendTime(b, s.start+int64(r.occ))
	b = append(b, '"')
	if r.person >= 0 {
		b = append(b, `,"person":`...)
		b = o.appendPerson(b, r.person, r.flags>>docShift)
	}
	k := append(o.key[:0], b[idStart:idEnd]...)
	switch st {
	case sources.StreamCheckins:
		v := &s.venues[r.ref]
		d := &districts[v.dist]
		b = append(b, `,"venue":{"id":"V`...)
		b = append(b, d.code...)
		b = appendUint(b, uint64(v.num), 6)
		b = append(b, `","name":"`...)
		b = append(b, venueKinds[v.kind]...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(v.num), 10)
		b = append(b, `","lat":`...)
		b = appendFixed(b, int64(v.lat), 4)
		b = append(b, `,"lng":`...)
		b = appendFixed(b, int64(v.lng), 4)
		b = append(b, '}')
		b = o.appendOptTime(b, `,"left_at":"`, r.end)
	case sources.StreamTravel:
		b = append(b, `,"region":{"code":"`...)
		b = append(b, regions[r.ref].code...)
		b = append(b, `","country":"CHN"}`...)
		if r.flags&flagLocation != 0 { // within about 3 km of the region's centre
			h := s.id.hash(uint64(r.seq), 10)
			b = append(b, `,"location":{"lat":`...)
			b = appendFixed(b, int64(regions[r.ref].lat+int32(h%601)-300), 4)
			b = append(b, `,"lng":`...)
			b = appendFixed(b, int64(regions[r.ref].lng+int32(h>>20%601)-300), 4)
			b = append(b, '}')
		}
		b = o.appendOptTime(b, `,"left_at":"`, r.end)
	case sources.StreamTests:
		b = append(b, `,"test":{"kind":"`...)
		b = append(b, [...]string{"", "pcr", "antigen"}[r.sub]...)
		b = append(b, `","result":"`...)
		b = append(b, [...]string{"", "negative", "positive", "inconclusive"}[r.res]...)
		b = o.appendOptTime(b, `","reported_at":"`, r.end)
		b = append(b, `,"lab":"`...)
		b = appendLab(b, r.ref)
		b = append(b, `"}`...)
	case sources.StreamVaccinations:
		b = append(b, `,"vaccine":{"product":"`...)
		b = append(b, vaccineProducts[r.ref]...)
		b = append(b, `","dose":`...)
		b = strconv.AppendUint(b, uint64(r.res), 10)
		b = append(b, '}')
	case sources.StreamDeclarations:
		if r.sub != 0 {
			b = append(b, `,"symptoms":[`...)
			first := true
			for i, name := range symptomNames {
				if r.sub&(1<<i) == 0 {
					continue
				}
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, '"')
				b = append(b, name...)
				b = append(b, '"')
			}
			b = append(b, ']')
		}
		if r.temp != 0 {
			b = append(b, `,"temperature_c":`...)
			b = appendFixed(b, int64(r.temp), 1)
		}
		if r.flags&flagJourney != 0 {
			b = o.appendJourney(b, &s.returnees[r.ref], r.flags&flagAmended != 0)
		}
	case sources.StreamAreaRisk:
		d := &s.desig[r.ref]
		k = append(k[:0], areaKindNames[d.kind]...)
		k = append(k, ':')
		k = append(k, d.code...)
		b = append(b, `,"area":{"kind":"`...)
		b = append(b, areaKindNames[d.kind]...)
		b = append(b, `","code":"`...)
		b = append(b, d.code...)
		b = append(b, `"},"level":"`...)
		b = append(b, levelNames[d.level]...)
		b = append(b, '"')
		b = o.appendOptTime(b, `,"until":"`, r.end)
	case sources.StreamOverrides:
		b = append(b, `,"colour":"`...)
		b = append(b, s.cfg.Policy.Colours[min(int(r.sub), len(s.cfg.Policy.Colours)-1)]...) // level r.sub under the policy
		b = o.appendOptTime(b, `","until":"`, r.end)
		b = append(b, `,"reason":"`...)
		b = append(b, overrideReasons[r.ref]...)
		if code := overrideCodes[r.ref]; code != "" {
			b = append(b, `","reason_code":"`...)
			b = append(b, code...)
		}
		h := s.id.hash(uint64(r.seq), 11)
		officer, approver := 1+h%200, 1+h>>16%199 // two of 200 officers
		if approver >= officer {
			approver++
		}
		b = append(b, `","office_region":"`...)
		if r.flags&flagBurst != 0 {
			officer, approver = 900, 901
			b = append(b, districts[0].code...)
		} else {
			b = append(b, districts[s.people[r.person].home].code...)
		}
		b = append(b, `","officer":"officer-`...)
		b = appendUint(b, officer, 3)
		b = append(b, `","approver":"officer-`...)
		b = appendUint(b, approver, 3)
		b = append(b, '"')
	case sources.StreamFlights:
		f := &s.flights[r.ref]
		k = append(k[:0], f.route.number...)
		k = append(k, '/')
		k = appendDate(k, s.start+int64(f.departed))
		b = o.appendFlight(b, f)
	}
	b = append(b, '}')
	o.val, o.key = b, k
	o.count[st]++
	o.bytes += int64(len(b))
	if o.count[st]&0xffff == 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
	}
	if err := o.emit(Message{Stream: st, Key: k, Value: b, At: time.Unix(s.start+int64(r.at), 0).In(s.loc)}); err != nil {
		return fmt.Errorf("emit %s message: %w", st, err)
	}
	return nil
}

// appendOptTime appends field (which opens the string) and t, or nothing if t
// is absent. A leading `"` in field closes the previous string either way.
func (o *output) appendOptTime(b []byte, field string, t int32) []byte {
	if t == noTime {
		if field[0] == '"' {
			b = append(b, '"')
		}
		return b
	}
	b = append(b, field...)
	b = appendTime(b, o.s.start+int64(t))
	return append(b, '"')
}

func appendLab(b []byte, ref int32) []byte {
	kind, where := ref/100, ref%100
	switch kind {
	case labCampaign:
		b = append(b, "lab-"...)
		b = append(b, districts[where].code...)
		return append(b, "-01"...)
	case labClinic:
		b = append(b, "fever-clinic-"...)
		return append(b, districts[where].code...)
	case labAirport:
		b = append(b, "airport-lab-"...)
		return append(b, cities[where].airport...)
	}
	return append(b, "antigen-self-test"...)
}

// appendPerson appends the person object of p.
func (o *output) appendPerson(b []byte, p int32, kind uint8) []byte {
	b = append(b, `{"id_type":"`...)
	b = append(b, idTypeNames[kind]...)
	b = append(b, `","id_number":"`...)
	b = o.s.id.appendIDNumber(b, p, kind)
	b = append(b, '"')
	if kind != docResident {
		b = append(b, `,"nationality":"`...)
		b = append(b, o.s.id.nationality(p, kind)...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func (o *output) appendFlight(b []byte, f *flight) []byte {
	s := o.s
	b = append(b, `,"flight":{"number":"`...)
	b = append(b, f.route.number...)
	b = append(b, `","date":"`...)
	b = appendDate(b, s.start+int64(f.departed))
	b = append(b, `","origin_airport":"`...)
	b = append(b, f.route.airport...)
	b = append(b, `","origin_country":"`...)
	b = append(b, f.route.country...)
	b = append(b, `","destination_airport":"`...)
	b = append(b, f.route.dest...)
	b = append(b, `","departed_at":"`...)
	b = appendTime(b, s.start+int64(f.departed))
	b = append(b, `","arrived_at":"`...)
	b = appendTime(b, s.start+int64(f.arrived))
	b = append(b, `"},"passengers":[`...)
	for i, q := range f.pax {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"person":`...)
		b = o.appendPerson(b, q, s.people[q].doc)
		b = append(b, `,"seat":"`...)
		if st := f.seat[i]; st < 0 {
			b = append(b, "CREW"...)
		} else {
			b = strconv.AppendInt(b, int64(st/9+1), 10)
			b = append(b, "ABCDEFGHK"[st%9])
		}
		b = append(b, `"}`...)
	}
	return append(b, ']')
}
