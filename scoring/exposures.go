package scoring

import "hash/fnv"

// An exposure's identity is (exposed person, source, place, kind); its id is a
// hash of exactly those (the tracer's), so every later finding about the same
// contact is a new VERSION of the same exposure: a replacement (a changed
// window, another overlap) or a retraction (its cause was taken back). The
// engine keeps, per person, the version it last applied of every exposure in a
// cold side store (most persons have none), and derives the exposure facts
// (close contact, companion, secondary contact, area high and medium) from the
// live entries: the anchor of a fact is the latest At of a live entry of its
// kind, ties to the smallest id. Retracting or replacing an entry recomputes
// the anchor, so what the exposure gave is taken back.
//
// Bound: an entry whose latest exposure time is more than settleAfter
// look-backs before now can no longer change (the tracer has forgotten every
// stay behind it), so it is folded into a settled anchor per fact and
// dropped; a person's entries are those of the last settleAfter look-backs.
const settleAfter = 2

// numExposureKinds is the number of exposure kinds (wire values 1..5).
const numExposureKinds = int(ExposureAreaMedium)

// exposureEntry is the version of one exposure the engine last applied.
type exposureEntry struct {
	key       uint64 // FNV-1a-64 of the exposure id
	version   uint64
	at        Time // latest exposure time (the anchor)
	first     Time // earliest exposure time (a close mark's start)
	wend      Time // close contacts: the case's reported_at
	ref       Ref  // the exposure id (evidence)
	kind      ExposureKind
	retracted bool
}

// anchor is a settled fact anchor: a time and its evidence.
type anchor struct {
	at  Time
	ref Ref
}

// cold is the part of a person's state that most persons never need, kept
// out of the fixed-size Facts: exposure entries, settled exposure anchors, and
// the negative PCRs of the current apart-window beyond Facts.Neg.
type cold struct {
	exps    []exposureEntry
	settled [numExposureKinds]anchor // by ExposureKind-1
	negs    []Time                   // window negatives older than Facts.Neg[2], newest first
}

func (c *cold) empty() bool {
	return len(c.exps) == 0 && len(c.negs) == 0 && c.settled == [numExposureKinds]anchor{}
}

func (e *Engine) coldOf(idx uint32) *cold {
	c := e.cold[idx]
	if c == nil {
		c = &cold{}
		e.cold[idx] = c
	}
	return c
}

func exposureKey(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// applyExposure applies one version of an exposure to person idx and reports
// whether the facts changed. A version no higher than the one applied is a
// duplicate or stale and changes nothing (version 0 is an unversioned exposure
// of an older writer: applied once). For a close-contact exposure it raises
// cm, the close mark CloseMark built, when the mark's window changed, or its
// retraction when a mark had been raised and the exposure no longer gives one.
func (e *Engine) applyExposure(idx uint32, f *Facts, ev *Event, now Time, cm *Mark) bool {
	kind := ExposureKind(ev.Sub)
	fact, ok := kind.Fact()
	if !ok {
		return false
	}
	c := e.coldOf(idx)
	key := exposureKey(ev.ID)
	i := -1
	for j := range c.exps {
		if c.exps[j].key == key && e.strs.Get(c.exps[j].ref) == ev.ID {
			i = j
			break
		}
	}
	first := ev.First
	if first == 0 || first > ev.At {
		first = ev.At
	}
	nx := exposureEntry{key: key, version: ev.Version, at: ev.At, first: first, wend: ev.End, kind: kind, retracted: ev.Retracted}
	hadMark := false
	if i >= 0 {
		old := &c.exps[i]
		if ev.Version <= old.version {
			return false
		}
		hadMark = old.kind == ExposureClose && !old.retracted && old.wend > old.first
		sameMark := hadMark && !nx.retracted && nx.first == old.first && nx.wend == old.wend
		nx.ref = old.ref
		if nx.retracted {
			// A tombstone: kept (against older versions arriving late) as
			// long as what it took back would have been.
			nx.at = max(nx.at, old.at)
		}
		*old = nx
		if cm != nil && (hadMark || !cm.Retracted) && !sameMark {
			e.marks = append(e.marks, *cm)
		}
	} else {
		if nx.retracted && nx.at == 0 {
			nx.at = now
		}
		nx.ref = e.strs.Put(ev.ID)
		c.exps = append(c.exps, nx)
		if cm != nil && !cm.Retracted {
			e.marks = append(e.marks, *cm)
		}
	}
	e.settle(c, now)
	return e.exposureAnchor(f, c, fact, kind)
}

// exposureAnchor recomputes the anchor of fact (of exposure kind k) from the
// settled anchor and the live entries, and reports whether it changed.
func (e *Engine) exposureAnchor(f *Facts, c *cold, fact Fact, k ExposureKind) bool {
	best := c.settled[k-1]
	for j := range c.exps {
		x := &c.exps[j]
		if x.kind != k || x.retracted {
			continue
		}
		if x.at > best.at || (x.at == best.at && best.at != 0 && e.strs.Get(x.ref) < e.strs.Get(best.ref)) {
			best = anchor{at: x.at, ref: x.ref}
		}
	}
	if f.Anchor[fact] == best.at && e.strs.Get(f.Ref[fact]) == e.strs.Get(best.ref) {
		return false
	}
	f.Anchor[fact], f.Ref[fact] = best.at, best.ref
	return true
}

// settle folds the entries that can no longer change into the settled
// anchors (see settleAfter). The anchors do not change by it.
func (e *Engine) settle(c *cold, now Time) {
	horizon := Time(0)
	if span := Time(settleAfter * e.policy.Contacts.Lookback.Std().Seconds()); now > span {
		horizon = now - span
	}
	keep := c.exps[:0]
	for _, x := range c.exps {
		if x.at >= horizon {
			keep = append(keep, x)
			continue
		}
		if x.retracted {
			continue
		}
		s := &c.settled[x.kind-1]
		if x.at > s.at || (x.at == s.at && e.strs.Get(x.ref) < e.strs.Get(s.ref)) {
			*s = anchor{at: x.at, ref: x.ref}
		}
	}
	clear(c.exps[len(keep):])
	c.exps = keep
}
