package scoring

import (
	"encoding/binary"
	"fmt"

	"healthcode/scoring/internal/arena"
)

// State records carry one person's facts out of the engine (to the state
// changelog) and back in (on restore), with evidence strings inline so that a
// record does not depend on the arena of the engine that wrote it.
//
// Layout (little endian): magic 'H', version 2, person key (16 bytes), then the
// fixed fields of Facts in declaration order with each Ref replaced by a
// uvarint-length-prefixed string, then the person's cold store: a uvarint
// count and that many u32 window negatives; five settled exposure anchors
// (u32 time, string evidence) by exposure kind; a uvarint count and that many
// exposure entries (string id, u64 version, u32 at, first and window end, u8
// kind, u8 retracted). Version 3 adds, after those: u32 Facts.Province; a
// byte, 1 if the person has a journey record, then the record: u32 declared
// at, planned arrival and next journey timer, u32 version and hash, strings
// declaration id, origin city and place, 3 bytes origin; a byte count and
// that many legs (u32 arrived, departed, strings place and manifest id, 3
// bytes origin, 3 bytes destination); a byte count and that many u32
// province presences. Version 4 adds, last: u32 the time of the person's
// latest decision (Engine.decided; 0 from an engine without
// EngineOptions.EventTime).
//
// Version 3 records load with no latest decision time (decisions are dated
// from the next event on). Version 2 records (no journeys) still load, without a
// journey record.
// Version 1 records (no cold store) still load: their exposure anchors become
// settled anchors, which no later version can take back, and their Neg[1..2]
// are kept only when inside the newest negative's apart-window (the window
// beyond them was not recorded, so four or more negatives in one window may
// still clear late for those persons, as version 1 did). Other versions are
// refused with ErrBadState ("version N").
const (
	stateMagic     = 'H'
	stateVersion   = 4
	stateVersionV2 = 2
	stateVersionV1 = 1
)

// AppendState appends the state record of person k to dst. ok is false if the
// engine holds no such person.
func (e *Engine) AppendState(dst []byte, k PersonKey) (out []byte, ok bool) {
	idx, ok := e.index.get(&k, e.facts)
	if !ok {
		return dst, false
	}
	ps := e.person(idx)
	f := ps.f
	b := append(dst, stateMagic, stateVersion)
	b = append(b, k[:]...)
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	str := func(r Ref) {
		s := e.strs.Bytes(r)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for i := range numStored {
		a := e.storedAnchor(&ps, Fact(i))
		u32(uint32(a.at))
		str(a.ref)
	}
	for _, n := range f.Neg {
		u32(uint32(n))
	}
	u32(uint32(f.NegQ))
	cs := ps.cs
	if cs == nil {
		cs = &caseFacts{}
	}
	u32(uint32(cs.FirstPositive))
	u32(uint32(cs.FirstReported))
	var arrivals [2]Arrival
	if ps.j != nil {
		arrivals = ps.j.arrivals
	}
	for _, a := range arrivals {
		u32(uint32(a.At))
		b = append(b, a.Country[:]...)
		str(a.Ref)
	}
	u32(uint32(cs.OverrideAt))
	u32(uint32(cs.OverrideUntil))
	str(cs.OverrideRef)
	str(cs.OverrideText)
	b = append(b, cs.OverrideLevel, f.Doses, f.Issued)
	u32(f.Version)
	u32(f.Hash)
	u32(uint32(f.Review))
	c := ps.c
	if c == nil {
		c = &cold{}
	}
	b = binary.AppendUvarint(b, uint64(len(c.negs)))
	for _, n := range c.negs {
		u32(uint32(n))
	}
	live := 0
	for k := ExposureClose; k <= ExposureAreaMedium; k++ {
		a := c.settled(k)
		u32(uint32(a.at))
		str(a.ref)
	}
	for i := range c.exps {
		if !c.exps[i].settled {
			live++
		}
	}
	b = binary.AppendUvarint(b, uint64(live))
	for _, x := range c.exps {
		if x.settled {
			continue
		}
		str(x.ref)
		b = binary.LittleEndian.AppendUint64(b, x.version)
		u32(uint32(x.at))
		u32(uint32(x.first))
		u32(uint32(x.wend))
		ret := byte(0)
		if x.retracted {
			ret = 1
		}
		b = append(b, byte(x.kind), ret)
	}
	u32(uint32(f.Province))
	b = e.appendJourney(b, ps.j)
	var decided Time
	if e.opts.EventTime {
		decided = e.decided[idx]
	}
	return binary.LittleEndian.AppendUint32(b, uint32(decided)), true
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = fmt.Errorf("%w: truncated", ErrBadState)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *stateReader) u64() uint64 {
	lo := uint64(r.u32())
	return lo | uint64(r.u32())<<32
}

// count reads a uvarint count of items of at least min bytes each.
func (r *stateReader) count(min int) int {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k)/uint64(min) {
		r.err = fmt.Errorf("%w: bad count", ErrBadState)
		return 0
	}
	r.b = r.b[k:]
	return int(n)
}

func (r *stateReader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", ErrBadState)
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *stateReader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = fmt.Errorf("%w: bad string", ErrBadState)
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

// LoadState installs a state record written by AppendState, replacing what the
// engine held for that person, and schedules the person's review timer.
func (e *Engine) LoadState(rec []byte) (PersonKey, error) {
	var k PersonKey
	if len(rec) < 2+len(k) || rec[0] != stateMagic {
		return k, fmt.Errorf("%w: bad header", ErrBadState)
	}
	ver := rec[1]
	if ver < stateVersionV1 || ver > stateVersion {
		return k, fmt.Errorf("%w: version %d (this build reads %d to %d)", ErrBadState, ver, stateVersionV1, stateVersion)
	}
	copy(k[:], rec[2:])
	r := &stateReader{b: rec[2+len(k):]}
	// The exposure anchors of a record are derived from its exposures
	// (exposures.go); only a version 1 record, which has none, needs them.
	var anchors [numStored]Time
	var ids [numStored]string
	for i := range numStored {
		anchors[i], ids[i] = Time(r.u32()), r.str()
	}
	var f Facts
	for i := range f.Neg {
		f.Neg[i] = Time(r.u32())
	}
	f.NegQ = Time(r.u32())
	cs := &caseFacts{}
	cs.FirstPositive = Time(r.u32())
	cs.FirstReported = Time(r.u32())
	var arrivals [2]Arrival
	for i := range arrivals {
		arrivals[i].At = Time(r.u32())
		copy(arrivals[i].Country[:], r.bytes(3))
		arrivals[i].Ref = e.strs.Put(r.str())
	}
	cs.OverrideAt = Time(r.u32())
	cs.OverrideUntil = Time(r.u32())
	cs.OverrideRef = e.strs.Put(r.str())
	cs.OverrideText = e.strs.Put(r.str())
	lv := r.bytes(3)
	cs.OverrideLevel, f.Doses, f.Issued = lv[0], lv[1], lv[2]
	f.Version = r.u32()
	f.Hash = r.u32()
	f.Review = Time(r.u32())
	cs.Positive = anchor{at: anchors[FactPositivePCR], ref: e.strs.Put(ids[FactPositivePCR])}
	f.Suspect, f.SuspectRef = anchors[FactSuspect], e.strs.Put(ids[FactSuspect])
	c := &cold{}
	if ver == stateVersionV1 {
		e.fromV1(&f, &anchors, &ids, c)
	} else {
		for n := r.count(4); n > 0; n-- {
			c.negs = append(c.negs, Time(r.u32()))
		}
		var settled [numExposureKinds]anchor
		for i := range settled {
			settled[i] = anchor{at: Time(r.u32()), ref: e.strs.Put(r.str())}
		}
		for n := r.count(23); n > 0; n-- {
			id := r.str()
			x := exposureEntry{ref: e.strs.Put(id), version: r.u64(),
				at: Time(r.u32()), first: Time(r.u32()), wend: Time(r.u32())}
			kr := r.bytes(2)
			x.kind, x.retracted = ExposureKind(kr[0]), kr[1] != 0
			if _, ok := x.kind.Fact(); !ok && r.err == nil {
				r.err = fmt.Errorf("%w: exposure kind %d", ErrBadState, kr[0])
			}
			c.exps = append(c.exps, x)
		}
		for i, a := range settled {
			c.setSettled(ExposureKind(i+1), a)
		}
	}
	var j *journey
	if ver >= 3 {
		f.Province = Time(r.u32())
		j = e.readJourney(r)
	}
	var decided Time
	if ver >= 4 {
		decided = Time(r.u32())
	}
	if r.err != nil {
		return k, r.err
	}
	if len(r.b) != 0 {
		return k, fmt.Errorf("%w: %d trailing bytes", ErrBadState, len(r.b))
	}
	if arrivals != [2]Arrival{} {
		if j == nil {
			j = &journey{}
		}
		j.arrivals = arrivals
	}
	idx := e.lookupOrAdd(&k)
	e.install(idx, f, c, j, cs)
	if e.opts.EventTime {
		e.decided[idx] = decided
	}
	for _, a := range arrivals {
		if a.At != 0 {
			e.abroad[a.Country] = append(e.abroad[a.Country], idx)
		}
	}
	if f.Review != 0 {
		e.timers.push(timer{at: f.Review, idx: idx})
	}
	if j != nil && j.next != 0 {
		e.timers.push(timer{at: j.next, idx: idx})
	}
	e.maybeCompact()
	return k, nil
}

// fromV1 converts what a version 1 record held: exposure anchors become
// settled (they cannot be taken back), and negatives outside the newest one's
// apart-window leave Neg (version 1 kept the three latest, wherever they were).
func (e *Engine) fromV1(f *Facts, anchors *[numStored]Time, ids *[numStored]string, c *cold) {
	for k := ExposureClose; k <= ExposureAreaMedium; k++ {
		fact, _ := k.Fact()
		c.setSettled(k, anchor{at: anchors[fact], ref: e.strs.Put(ids[fact])})
	}
	apart := uint64(e.policy.Params.NegativeApart.Std().Seconds())
	for i := 1; i < len(f.Neg); i++ {
		if uint64(f.Neg[i])+apart <= uint64(f.Neg[0]) {
			f.NegQ = max(f.NegQ, f.Neg[i])
			f.Neg[i] = 0
		}
	}
	if f.Neg[1] == 0 {
		f.Neg[1], f.Neg[2] = f.Neg[2], 0
	}
}

// maybeCompact rewrites the string arena keeping only referenced strings, once
// it has grown past the threshold.
func (e *Engine) maybeCompact() {
	if e.strs.Size() < e.nextComp {
		return
	}
	fresh := arena.New(e.strs.Size() / 2)
	move := func(r *Ref) { *r = fresh.Put(e.strs.Get(*r)) }
	for i := range e.facts {
		move(&e.facts[i].SuspectRef)
	}
	for _, cs := range e.cases {
		move(&cs.Positive.ref)
		move(&cs.OverrideRef)
		move(&cs.OverrideText)
	}
	for _, c := range e.cold {
		for j := range c.exps {
			move(&c.exps[j].ref)
		}
	}
	for _, j := range e.journeys {
		for i := range j.arrivals {
			move(&j.arrivals[i].Ref)
		}
		move(&j.declRef)
		move(&j.cityRef)
		move(&j.placeRef)
		for i := range j.legs {
			move(&j.legs[i].place)
			move(&j.legs[i].id)
		}
	}
	e.strs = fresh
	e.nextComp = max(e.opts.CompactAt, 2*fresh.Size())
}
