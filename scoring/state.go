package scoring

import (
	"encoding/binary"
	"fmt"

	"healthcode/internal/arena"
)

// State records carry one person's facts out of the engine (to the state
// changelog) and back in (on restore), with evidence strings inline so that a
// record does not depend on the arena of the engine that wrote it.
//
// Layout (little endian): magic 'H', version 1, person key (16 bytes), then the
// fixed fields of Facts in declaration order with each Ref replaced by a
// uvarint-length-prefixed string.
const (
	stateMagic   = 'H'
	stateVersion = 1
)

// AppendState appends the state record of person k to dst. ok is false if the
// engine holds no such person.
func (e *Engine) AppendState(dst []byte, k PersonKey) (out []byte, ok bool) {
	idx, ok := e.index.get(&k, e.keys)
	if !ok {
		return dst, false
	}
	f := &e.facts[idx]
	b := append(dst, stateMagic, stateVersion)
	b = append(b, k[:]...)
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	str := func(r Ref) {
		s := e.strs.Get(r)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for i := 0; i < numStored; i++ {
		u32(uint32(f.Anchor[i]))
		str(f.Ref[i])
	}
	for _, n := range f.Neg {
		u32(uint32(n))
	}
	u32(uint32(f.NegQ))
	u32(uint32(f.FirstPositive))
	u32(uint32(f.FirstReported))
	for _, a := range f.Arrivals {
		u32(uint32(a.At))
		b = append(b, a.Country[:]...)
		str(a.Ref)
	}
	u32(uint32(f.OverrideAt))
	u32(uint32(f.OverrideUntil))
	str(f.OverrideRef)
	str(f.OverrideText)
	b = append(b, f.OverrideLevel, f.Doses, f.Issued)
	u32(f.Version)
	u32(f.Hash)
	u32(uint32(f.Review))
	return b, true
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
	if rec[1] != stateVersion {
		return k, fmt.Errorf("%w: version %d", ErrBadState, rec[1])
	}
	copy(k[:], rec[2:])
	r := &stateReader{b: rec[2+len(k):]}
	var f Facts
	for i := 0; i < numStored; i++ {
		f.Anchor[i] = Time(r.u32())
		f.Ref[i] = e.strs.Put(r.str())
	}
	for i := range f.Neg {
		f.Neg[i] = Time(r.u32())
	}
	f.NegQ = Time(r.u32())
	f.FirstPositive = Time(r.u32())
	f.FirstReported = Time(r.u32())
	for i := range f.Arrivals {
		f.Arrivals[i].At = Time(r.u32())
		copy(f.Arrivals[i].Country[:], r.bytes(3))
		f.Arrivals[i].Ref = e.strs.Put(r.str())
	}
	f.OverrideAt = Time(r.u32())
	f.OverrideUntil = Time(r.u32())
	f.OverrideRef = e.strs.Put(r.str())
	f.OverrideText = e.strs.Put(r.str())
	lv := r.bytes(3)
	f.OverrideLevel, f.Doses, f.Issued = lv[0], lv[1], lv[2]
	f.Version = r.u32()
	f.Hash = r.u32()
	f.Review = Time(r.u32())
	if r.err != nil {
		return k, r.err
	}
	if len(r.b) != 0 {
		return k, fmt.Errorf("%w: %d trailing bytes", ErrBadState, len(r.b))
	}
	idx := e.lookupOrAdd(k)
	e.facts[idx] = f
	for _, a := range f.Arrivals {
		if a.At != 0 {
			e.abroad[a.Country] = append(e.abroad[a.Country], idx)
		}
	}
	if f.Review != 0 {
		e.timers.push(timer{at: f.Review, idx: idx})
	}
	e.maybeCompact()
	return k, nil
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
		f := &e.facts[i]
		for j := range f.Ref {
			move(&f.Ref[j])
		}
		for j := range f.Arrivals {
			move(&f.Arrivals[j].Ref)
		}
		move(&f.OverrideRef)
		move(&f.OverrideText)
	}
	e.strs = fresh
	e.nextComp = max(e.opts.CompactAt, 2*fresh.Size())
}
