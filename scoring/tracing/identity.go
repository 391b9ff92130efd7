package tracing

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"healthcode/scoring"
	"healthcode/scoring/internal/mix"
)

// Every operation (AddPresence, AddMark, AddDesignation) runs in three steps:
// begin; the join, which either CONTRIBUTES an overlap to an exposure
// identity or, where something was taken away, TOUCHES one; and finish, which
// settles each identity met: its current value is the aggregate of every
// overlap that gives it, and if that differs from what was last emitted, a new
// version is emitted (a retraction when nothing gives it any more). An
// identity met only by contributions and never emitted before is settled from
// those contributions (nothing else can give it: anything earlier would have
// emitted it); any other is recomputed from the index (recompute), so the
// current value never depends on the order the inputs came in.

// ident is an exposure's identity: (exposed person, source, place, kind).
// The exposed person is its index in the person table, which names the same
// person for the whole operation (entries are freed only by Expire).
type ident struct {
	source  scoring.PersonKey
	exposed uint32
	place   uint32
	kind    scoring.ExposureKind
}

// contrib is one overlap giving an exposure.
type contrib struct {
	start, end, at, wend scoring.Time
	keep                 scoring.Time // when every stay behind it has expired
	evidence             [3]evid
}

// evid is one piece of evidence: a string, or the event id of a record, read
// only when the overlap it belongs to is the one an exposure shows. A record
// does not move during an operation, so src and i stay valid until finish.
type evid struct {
	s   string
	src idSource // when not nil: the id of record i
	i   int
}

// idSource holds records' event ids: a sealed segment, or the columns of one
// being filled.
type idSource interface{ id(i int) string }

func (e *evid) get() string {
	if e.src != nil {
		return e.src.id(e.i)
	}
	return e.s
}

// compareEvidence orders evidence lists as slices.Compare orders their
// strings.
func compareEvidence(a, b *[3]evid) int {
	for k := range a {
		if c := strings.Compare(a[k].get(), b[k].get()); c != 0 {
			return c
		}
	}
	return 0
}

// agg is the aggregate of the n overlaps met of an exposure (see merge).
type agg struct {
	start, end, at, first, wend scoring.Time
	evidence                    [3]evid
	n                           int
}

// emitRec is what the tracer remembers of an exposure it emitted: a hash of
// the value last emitted (0 once retracted) and when it can be forgotten.
type emitRec struct {
	sum  uint64
	keep scoring.Time
}

// pending is an identity met by the current operation.
type pending struct {
	id      ident
	a       agg
	keep    scoring.Time
	touched bool // something was taken away: recompute
}

// SetVersion sets the version of the next exposures emitted to at least v.
// Versions only rise: each operation takes the next one, so a caller that
// replays the same inputs in the same order (the trace stage rebuilding from
// hc.presence, which passes the message offset) gets the same versions.
func (t *Tracer) SetVersion(v uint64) {
	if v > t.version {
		t.version = v
	}
}

func (t *Tracer) begin() {
	t.version++
	t.pend = t.pend[:0]
	if len(t.pendIdx) > 0 {
		clear(t.pendIdx)
	}
}

func (t *Tracer) pendingOf(id ident) *pending {
	h := identHash(&id)
	if i, ok := t.pendIdx[h]; ok && t.pend[i].id == id {
		return &t.pend[i]
	}
	t.pend = append(t.pend, pending{id: id})
	t.pendIdx[h] = len(t.pend) - 1
	return &t.pend[len(t.pend)-1]
}

func identHash(id *ident) uint64 {
	h := mix.Mix64(uint64(id.exposed)<<32 | uint64(id.place))
	h = mix.Mix64(h ^ binary.LittleEndian.Uint64(id.source[:8]) ^ uint64(id.kind)<<56)
	return mix.Mix64(h ^ binary.LittleEndian.Uint64(id.source[8:]))
}

// contribute adds overlap c to identity id in the current operation.
func (t *Tracer) contribute(id ident, c *contrib) {
	p := t.pendingOf(id)
	p.a.merge(c)
	p.keep = max(p.keep, c.keep)
}

// touch marks identity id for recomputation in the current operation.
func (t *Tracer) touch(id ident) { t.pendingOf(id).touched = true }

// merge folds overlap c into the aggregate: the span of the overlaps, the
// latest and earliest exposure times, and the evidence of the overlap with the
// latest exposure time (ties: the smallest evidence), so the aggregate is a
// function of the set of overlaps.
func (a *agg) merge(c *contrib) {
	if a.n == 0 {
		a.start, a.end, a.at, a.first, a.wend, a.evidence, a.n = c.start, c.end, c.at, c.at, c.wend, c.evidence, 1
		return
	}
	a.n++
	a.start, a.end = min(a.start, c.start), max(a.end, c.end)
	a.first, a.wend = min(a.first, c.at), max(a.wend, c.wend)
	if c.at > a.at || (c.at == a.at && compareEvidence(&c.evidence, &a.evidence) < 0) {
		a.at, a.evidence = c.at, c.evidence
	}
}

// finish settles every identity met by the operation and appends the
// versions it emits to out.
func (t *Tracer) finish(out []Exposure) []Exposure {
	var evidence []string // one block for the evidence of every version emitted
	lastPlace, pk := ^uint32(0), ""
	for i := range t.pend {
		p := &t.pend[i]
		id := p.id
		if id.place != lastPlace { // pending identities come place by place
			lastPlace, pk = id.place, t.places.key(id.place)
		}
		exposed := *t.people.key(id.exposed)
		key, sum := exposureID(&exposed, &id, pk)
		rec, known := t.emitted[key]
		if p.touched || (known && rec.sum != 0) {
			p.a, p.keep = agg{}, 0
			t.recompute(&id, &p.a, &p.keep)
		}
		x := Exposure{Exposed: exposed, Source: id.source, Kind: id.kind, Place: pk, ID: exposureName(&sum)}
		if p.a.n == 0 {
			if !known || rec.sum == 0 {
				continue // never emitted, or already retracted
			}
			t.emitted[key] = emitRec{sum: 0, keep: rec.keep}
			// At is the end of the latest stay that was behind it: never
			// before the versions it hides (ClickHouse retention deletes by it).
			x.At, x.Version, x.Retracted = rec.keep, t.version, true
			out = append(out, x)
			continue
		}
		a := &p.a
		x.Start, x.End, x.At, x.First, x.WindowEnd = a.start, a.end, a.at, a.first, a.wend
		if cap(evidence)-len(evidence) < len(a.evidence) {
			evidence = make([]string, 0, 3*(len(t.pend)-i))
		}
		from := len(evidence)
		for k := range a.evidence {
			if e := a.evidence[k].get(); e != "" {
				evidence = append(evidence, e)
			}
		}
		x.Evidence = evidence[from:len(evidence):len(evidence)]
		v := valueHash(&x)
		if known && rec.sum == v {
			continue
		}
		t.emitted[key] = emitRec{sum: v, keep: max(p.keep, rec.keep)}
		x.Version = t.version
		out = append(out, x)
	}
	return out
}

// exposureID returns the map key and the SHA-256 of an identity: (exposed,
// source, kind, place key pk).
func exposureID(exposed *scoring.PersonKey, id *ident, pk string) (uint64, [32]byte) {
	var buf [128]byte
	b := append(buf[:0], exposed[:]...)
	b = append(b, id.source[:]...)
	b = append(b, byte(id.kind))
	b = binary.AppendUvarint(b, uint64(len(pk)))
	b = append(b, pk...)
	sum := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(sum[:8]), sum
}

// exposureName is Exposure.ID of an identity's SHA-256.
func exposureName(sum *[32]byte) string {
	var b [4 + 32]byte
	copy(b[:], "exp-")
	hex.Encode(b[4:], sum[:16])
	return string(b[:])
}

// valueHash summarises an exposure's value (never 0): its times and its
// evidence, each string with its length.
func valueHash(x *Exposure) uint64 {
	h := mix.Mix64(uint64(x.Start)<<32 | uint64(x.End))
	h = mix.Mix64(h ^ (uint64(x.At)<<32 | uint64(x.First)))
	h = mix.Mix64(h ^ uint64(x.WindowEnd))
	for _, e := range x.Evidence {
		h = mix.Mix64(h ^ uint64(len(e)))
		for len(e) > 0 {
			var w uint64
			for k := 0; k < 8 && k < len(e); k++ {
				w |= uint64(e[k]) << (8 * k)
			}
			h = mix.Mix64(h ^ w)
			e = e[min(8, len(e)):]
		}
	}
	return h | 1
}

// recompute aggregates every overlap the index holds now for identity id.
func (t *Tracer) recompute(id *ident, a *agg, keep *scoring.Time) {
	add := func(c *contrib) {
		a.merge(c)
		*keep = max(*keep, c.keep)
	}
	qx := id.exposed
	switch id.kind {
	case scoring.ExposureAreaHigh, scoring.ExposureAreaMedium:
		t.eachOfPerson(qx, 0, scoring.MaxTime, func(st *stay) {
			if st.place != id.place {
				return
			}
			t.areaContribs(st, func(kind scoring.ExposureKind, c *contrib) {
				if kind == id.kind {
					add(c)
				}
			})
		})
		return
	}
	marks := t.marks[id.source]
	if len(marks) == 0 {
		return
	}
	var qs []stay
	t.eachOfPerson(qx, 0, scoring.MaxTime, func(st *stay) {
		if st.place == id.place {
			qs = append(qs, *st)
		}
	})
	for _, h := range t.hot[id.place] {
		if h.key != id.source {
			continue
		}
		for mi := range marks {
			m := &marks[mi]
			if _, _, ok := t.dangerSpan(m, &h.stay); !ok {
				continue
			}
			for qi := range qs {
				if kind, c, ok := t.pairContrib(m, &h.stay, &qs[qi]); ok && kind == id.kind {
					add(&c)
				}
			}
		}
	}
}
