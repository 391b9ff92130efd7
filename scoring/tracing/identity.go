package tracing

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"slices"

	"healthcode/scoring"
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
type ident struct {
	exposed, source scoring.PersonKey
	kind            scoring.ExposureKind
	place           uint32
}

// contrib is one overlap giving an exposure.
type contrib struct {
	start, end, at, wend scoring.Time
	keep                 scoring.Time // when every stay behind it has expired
	evidence             [3]string
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
	x       Exposure
	n       int // contributions merged into x
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
	h := fnv.New64a()
	h.Write(id.exposed[:])
	h.Write(id.source[:])
	var b [5]byte
	b[0] = byte(id.kind)
	binary.LittleEndian.PutUint32(b[1:], id.place)
	h.Write(b[:])
	return h.Sum64()
}

// contribute adds overlap c to identity id in the current operation.
func (t *Tracer) contribute(id ident, c *contrib) {
	p := t.pendingOf(id)
	merge(&p.x, &p.n, c)
	p.keep = max(p.keep, c.keep)
}

// touch marks identity id for recomputation in the current operation.
func (t *Tracer) touch(id ident) { t.pendingOf(id).touched = true }

// merge folds overlap c into the aggregate x of n overlaps: the span of the
// overlaps, the latest and earliest exposure times, and the evidence of the
// overlap with the latest exposure time (ties: the smallest evidence), so the
// aggregate is a function of the set of overlaps.
func merge(x *Exposure, n *int, c *contrib) {
	ev := c.evidence[:]
	if *n == 0 {
		x.Start, x.End, x.At, x.First, x.WindowEnd = c.start, c.end, c.at, c.at, c.wend
		x.Evidence = append(x.Evidence[:0], ev...)
		*n = 1
		return
	}
	*n++
	x.Start, x.End = min(x.Start, c.start), max(x.End, c.end)
	x.First, x.WindowEnd = min(x.First, c.at), max(x.WindowEnd, c.wend)
	if c.at > x.At || (c.at == x.At && slices.Compare(ev, x.Evidence) < 0) {
		x.At = c.at
		x.Evidence = append(x.Evidence[:0], ev...)
	}
}

// finish settles every identity met by the operation and appends the
// versions it emits to out.
func (t *Tracer) finish(out []Exposure) []Exposure {
	for i := range t.pend {
		p := &t.pend[i]
		id := p.id
		key, sum := exposureID(t, &id)
		rec, known := t.emitted[key]
		if p.touched || (known && rec.sum != 0) {
			p.x, p.n, p.keep = Exposure{}, 0, 0
			t.recompute(&id, &p.x, &p.n, &p.keep)
		}
		x := p.x
		x.Exposed, x.Source, x.Kind, x.Place = id.exposed, id.source, id.kind, t.places.key(id.place)
		x.Evidence = slices.DeleteFunc(slices.Clone(x.Evidence), func(s string) bool { return s == "" })
		x.ID = "exp-" + hex.EncodeToString(sum[:16])
		if p.n == 0 {
			if !known || rec.sum == 0 {
				continue // never emitted, or already retracted
			}
			t.emitted[key] = emitRec{sum: 0, keep: rec.keep}
			// At is the end of the latest stay that was behind it: never
			// before the versions it hides (ClickHouse retention deletes by it).
			out = append(out, Exposure{Exposed: x.Exposed, Source: x.Source, Kind: x.Kind, Place: x.Place,
				At: rec.keep, ID: x.ID, Version: t.version, Retracted: true})
			continue
		}
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
// source, kind, place key).
func exposureID(t *Tracer, id *ident) (uint64, [32]byte) {
	pk := t.places.key(id.place)
	b := make([]byte, 0, 40+len(pk))
	b = append(b, id.exposed[:]...)
	b = append(b, id.source[:]...)
	b = append(b, byte(id.kind))
	b = binary.AppendUvarint(b, uint64(len(pk)))
	b = append(b, pk...)
	sum := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(sum[:8]), sum
}

// valueHash summarises an exposure's value (never 0).
func valueHash(x *Exposure) uint64 {
	h := fnv.New64a()
	var b [20]byte
	for i, v := range [...]scoring.Time{x.Start, x.End, x.At, x.First, x.WindowEnd} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	h.Write(b[:])
	for _, e := range x.Evidence {
		h.Write([]byte(e))
		h.Write([]byte{0})
	}
	return h.Sum64() | 1
}

// recompute aggregates every overlap the index holds now for identity id.
func (t *Tracer) recompute(id *ident, x *Exposure, n *int, keep *scoring.Time) {
	add := func(c *contrib) {
		merge(x, n, c)
		*keep = max(*keep, c.keep)
	}
	qx, ok := t.people.lookup(id.exposed)
	if !ok {
		return
	}
	switch id.kind {
	case scoring.ExposureAreaHigh, scoring.ExposureAreaMedium:
		t.eachOfPerson(qx, 0, scoring.MaxTime, func(s *segment, i int, e scoring.Time) {
			if t.locs.place[s.loc[i]] != id.place {
				return
			}
			st := t.stayAt(s, i, e)
			t.areaContribs(&st, func(kind scoring.ExposureKind, c *contrib) {
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
	t.eachOfPerson(qx, 0, scoring.MaxTime, func(s *segment, i int, e scoring.Time) {
		if t.locs.place[s.loc[i]] == id.place {
			qs = append(qs, t.stayAt(s, i, e))
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
				t.pairContrib(m, &h.stay, &qs[qi], func(kind scoring.ExposureKind, c *contrib) {
					if kind == id.kind {
						add(c)
					}
				})
			}
		}
	}
}
