package scoring

import (
	"encoding/binary"
	"fmt"
)

// appendJourney appends a journey record to a state record (state.go).
func (e *Engine) appendJourney(b []byte, j *journey) []byte {
	if !j.held() {
		return append(b, 0)
	}
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	str := func(r Ref) {
		s := e.strs.Get(r)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, 1)
	u32(uint32(j.declAt))
	u32(uint32(j.planned))
	u32(uint32(j.next))
	u32(j.version)
	u32(j.hash)
	str(j.declRef)
	str(j.cityRef)
	str(j.placeRef)
	b = append(b, j.origin[:]...)
	b = append(b, byte(len(j.legs)))
	for _, l := range j.legs {
		u32(uint32(l.arrived))
		u32(uint32(l.departed))
		str(l.place)
		str(l.id)
		b = append(b, l.origin[:]...)
		b = append(b, l.dest[:]...)
	}
	n := 0
	for n < maxProv && j.prov[n] != 0 {
		n++
	}
	b = append(b, byte(n))
	for _, t := range j.prov[:n] {
		u32(uint32(t))
	}
	return b
}

// readJourney reads what appendJourney wrote; nil if the person has none.
func (e *Engine) readJourney(r *stateReader) *journey {
	if r.bytes(1)[0] == 0 {
		return nil
	}
	j := &journey{declAt: Time(r.u32()), planned: Time(r.u32()), next: Time(r.u32()), version: r.u32(), hash: r.u32()}
	j.declRef, j.cityRef = e.strs.Put(r.str()), e.strs.Put(r.str())
	place := r.str()
	j.placeRef = e.strs.Put(place)
	copy(j.origin[:], r.bytes(3))
	if j.declAt != 0 {
		j.floor = journeyFloor(j.declAt, place)
	}
	n := int(r.bytes(1)[0])
	if n > maxLegs && r.err == nil {
		r.err = fmt.Errorf("%w: %d journey legs", ErrBadState, n)
	}
	if n > 0 && r.err == nil {
		j.legs = make([]leg, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		l := &j.legs[i]
		l.arrived, l.departed = Time(r.u32()), Time(r.u32())
		l.place, l.id = e.strs.Put(r.str()), e.strs.Put(r.str())
		copy(l.origin[:], r.bytes(3))
		copy(l.dest[:], r.bytes(3))
		if l.arrived == 0 && r.err == nil {
			r.err = fmt.Errorf("%w: journey leg without arrival", ErrBadState)
		}
	}
	n = int(r.bytes(1)[0])
	if n > maxProv && r.err == nil {
		r.err = fmt.Errorf("%w: %d province presences", ErrBadState, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		if j.prov[i] = Time(r.u32()); j.prov[i] == 0 && r.err == nil {
			r.err = fmt.Errorf("%w: province presence without time", ErrBadState)
		}
	}
	return j
}
