package scoring

import "bytes"

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
// stay behind it), so it is folded into the settled anchor of its fact (an
// entry marked settled, at most one per kind) and dropped; a person's entries
// are those of the last settleAfter look-backs, and a settled one per kind.
const settleAfter = 2

// numExposureKinds is the number of exposure kinds (wire values 1..5).
const numExposureKinds = int(ExposureAreaMedium)

// exposureEntry is the version of one exposure the engine last applied, or
// (settled) the settled anchor of a kind: at and ref, nothing else.
type exposureEntry struct {
	version   uint64
	at        Time // latest exposure time (the anchor)
	first     Time // earliest exposure time (a close mark's start)
	wend      Time // close contacts: the case's reported_at
	ref       Ref  // the exposure id (evidence)
	kind      ExposureKind
	retracted bool
	settled   bool
}

// anchor is a fact's anchor: a time and its evidence.
type anchor struct {
	at  Time
	ref Ref
}

// cold is the part of a person's state that most persons never need, kept
// out of the fixed-size Facts: exposure entries, settled exposure anchors, and
// the negative PCRs of the current apart-window beyond Facts.Neg.
type cold struct {
	exps []exposureEntry
	negs []Time // window negatives older than Facts.Neg[2], newest first
}

func (c *cold) empty() bool { return len(c.exps) == 0 && len(c.negs) == 0 }

// settled returns the settled anchor of kind k (zero if none).
func (c *cold) settled(k ExposureKind) anchor {
	if i := c.settledAt(k); i >= 0 {
		return anchor{at: c.exps[i].at, ref: c.exps[i].ref}
	}
	return anchor{}
}

func (c *cold) settledAt(k ExposureKind) int {
	for i := range c.exps {
		if c.exps[i].settled && c.exps[i].kind == k {
			return i
		}
	}
	return -1
}

// setSettled sets the settled anchor of kind k (a zero anchor: none).
func (c *cold) setSettled(k ExposureKind, a anchor) {
	i := c.settledAt(k)
	switch {
	case i >= 0:
		c.exps[i].at, c.exps[i].ref = a.at, a.ref
	case a != anchor{}:
		c.exps = append(c.exps, exposureEntry{at: a.at, ref: a.ref, kind: k, settled: true})
	}
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
	c := e.coldOf(idx, f)
	i := -1
	for j := range c.exps {
		if x := &c.exps[j]; !x.settled && string(e.strs.Bytes(x.ref)) == ev.ID {
			i = j
			break
		}
	}
	first := ev.First
	if first == 0 || first > ev.At {
		first = ev.At
	}
	nx := exposureEntry{version: ev.Version, at: ev.At, first: first, wend: ev.End, kind: kind, retracted: ev.Retracted}
	hadMark := false
	was := e.exposureAnchor(c, kind)
	oldKind := kind
	if i >= 0 {
		old := &c.exps[i]
		if ev.Version <= old.version {
			return false
		}
		oldKind = old.kind
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
	f.saw(seenOf(fact), nx.at)
	e.settle(c, now)
	changed := e.anchorMoved(was, e.exposureAnchor(c, kind))
	if oldKind != kind {
		// An id is one exposure of one kind; a record saying otherwise
		// still takes back what the old kind gave.
		changed = true
	}
	return changed
}

// exposureAnchor derives the anchor of the fact of exposure kind k from the
// settled anchor and the live entries of c (nil: none): the latest At, ties to
// the smallest id.
func (e *Engine) exposureAnchor(c *cold, k ExposureKind) anchor {
	if c == nil {
		return anchor{}
	}
	var best anchor
	for j := range c.exps {
		x := &c.exps[j]
		if x.kind != k || x.retracted {
			continue
		}
		if x.at > best.at || (x.at == best.at && best.at != 0 && e.strs.Get(x.ref) < e.strs.Get(best.ref)) {
			best = anchor{at: x.at, ref: x.ref}
		}
	}
	return best
}

// anchorMoved reports whether two anchors differ, in time or in evidence.
func (e *Engine) anchorMoved(a, b anchor) bool {
	return a.at != b.at || (a.ref != b.ref && !bytes.Equal(e.strs.Bytes(a.ref), e.strs.Bytes(b.ref)))
}

// settle folds the entries that can no longer change into the settled
// anchors (see settleAfter). The anchors do not change by it.
func (e *Engine) settle(c *cold, now Time) {
	horizon := Time(0)
	if span := Time(settleAfter * e.policy.Contacts.Lookback.Std().Seconds()); now > span {
		horizon = now - span
	}
	var buf [4]exposureEntry
	fold := buf[:0]
	n := len(c.exps)
	keep := c.exps[:0]
	for _, x := range c.exps {
		switch {
		case x.settled || x.at >= horizon:
			keep = append(keep, x)
		case !x.retracted:
			fold = append(fold, x)
		}
	}
	c.exps = keep
	for _, x := range fold {
		s := c.settled(x.kind)
		if x.at > s.at || (x.at == s.at && e.strs.Get(x.ref) < e.strs.Get(s.ref)) {
			c.setSettled(x.kind, anchor{at: x.at, ref: x.ref})
		}
	}
	clear(c.exps[len(c.exps):n])
}
