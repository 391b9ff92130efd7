package scoring

import "sort"

// Areas is the table of area risk designations, per area sorted by start. A
// designation is in force from its From until the earlier of its Until and the
// From of the next designation of the same area ("a later designation replaces
// the earlier one from its occurred_at on").
type Areas struct {
	byArea map[areaKey][]Designation
	h3Res  uint16 // bit r set when some H3 designation has resolution r
}

type areaKey struct {
	kind AreaKind
	code string // country or region code; empty for H3
	cell uint64 // H3 cell; zero otherwise
}

func keyOf(d *Designation) areaKey {
	if d.Kind == AreaH3 {
		return areaKey{kind: AreaH3, cell: d.Cell}
	}
	return areaKey{kind: d.Kind, code: d.Code}
}

// NewAreas returns an empty table.
func NewAreas() *Areas { return &Areas{byArea: map[areaKey][]Designation{}} }

// Add inserts a designation. It reports false for an exact duplicate (same area
// and start), which replaces nothing.
func (a *Areas) Add(d Designation) bool {
	k := keyOf(&d)
	list := a.byArea[k]
	i := sort.Search(len(list), func(i int) bool { return list[i].From >= d.From })
	if i < len(list) && list[i].From == d.From {
		if list[i] == d {
			return false
		}
		// Same area and start: keep the one with the larger event id, so the
		// outcome does not depend on arrival order.
		if d.ID < list[i].ID {
			return false
		}
		list[i] = d
		return true
	}
	list = append(list, Designation{})
	copy(list[i+1:], list[i:])
	list[i] = d
	a.byArea[k] = list
	if d.Kind == AreaH3 {
		a.h3Res |= 1 << H3Resolution(d.Cell)
	}
	return true
}

// Len is the number of designations held.
func (a *Areas) Len() int {
	n := 0
	for _, l := range a.byArea {
		n += len(l)
	}
	return n
}

// Period is when a designation is in force: from From until End, exclusive;
// End 0 means open-ended.
type Period struct{ From, End Time }

// Overlaps reports whether the period meets some instant of the stay
// [start, end) (the instant start when end == start). Both are half-open: a
// stay ending exactly when the period starts, or starting exactly when it
// ends, does not overlap it.
func (p Period) Overlaps(start, end Time) bool {
	last := start // the stay's last second
	if end > start {
		last = end - 1
	}
	return p.From <= last && (p.End == 0 || p.End > start)
}

// periodAt is the period of designation i of an area's list: from its From
// until the earlier of its Until and the next designation's From.
func periodAt(list []Designation, i int) Period {
	end := list[i].Until
	if i+1 < len(list) && (end == 0 || list[i+1].From < end) {
		end = list[i+1].From
	}
	return Period{From: list[i].From, End: end}
}

// Period returns when designation d is in force, as the table holds it now
// (a later designation of its area ends it). ok is false when the table holds
// no designation of d's area starting at d.From.
func (a *Areas) Period(d *Designation) (p Period, ok bool) {
	list := a.byArea[keyOf(d)]
	i := sort.Search(len(list), func(i int) bool { return list[i].From >= d.From })
	if i == len(list) || list[i].From != d.From {
		return Period{}, false
	}
	return periodAt(list, i), true
}

// Next returns the From of the designation that follows d in its area's list
// (ok false when d is the last, or not held).
func (a *Areas) Next(d *Designation) (Time, bool) {
	list := a.byArea[keyOf(d)]
	i := sort.Search(len(list), func(i int) bool { return list[i].From > d.From })
	if i == len(list) {
		return 0, false
	}
	return list[i].From, true
}

// eachInForce calls fn for every designation of area k in force at some
// instant of the stay [from, to), in order of start.
func (a *Areas) eachInForce(k areaKey, from, to Time, fn func(d *Designation, p Period)) {
	list := a.byArea[k]
	for i := range list {
		if !(Period{From: list[i].From}).Overlaps(from, to) {
			break // this one and every later one start after the stay
		}
		if p := periodAt(list, i); p.Overlaps(from, to) {
			fn(&list[i], p)
		}
	}
}

// EachInForce calls fn for every designation of the region or of the cell's
// parents (at every resolution that has H3 designations) in force at some
// instant of the stay [from, to): the region's first, then the cell's from the
// coarsest resolution, each area's in order of start. region or cell may be
// empty/zero. fn must not add designations.
func (a *Areas) EachInForce(region string, cell uint64, from, to Time, fn func(d *Designation, p Period)) {
	if a == nil || len(a.byArea) == 0 {
		return
	}
	if region != "" {
		a.eachInForce(areaKey{kind: AreaRegion, code: region}, from, to, fn)
	}
	if cell != 0 && a.h3Res != 0 {
		res := H3Resolution(cell)
		for r := 0; r <= res; r++ {
			if a.h3Res&(1<<r) != 0 {
				a.eachInForce(areaKey{kind: AreaH3, cell: H3Parent(cell, r)}, from, to, fn)
			}
		}
	}
}

// highest returns the first designation of the highest level that fn is
// called with by each.
func highest(each func(fn func(d *Designation, p Period))) (RiskLevel, *Designation) {
	var best RiskLevel
	var bestD *Designation
	each(func(d *Designation, _ Period) {
		if d.Level > best {
			best, bestD = d.Level, d
		}
	})
	return best, bestD
}

// CountryAt returns the level of a country at instant t.
func (a *Areas) CountryAt(country string, t Time) (RiskLevel, *Designation) {
	if a == nil || len(a.byArea) == 0 {
		return 0, nil
	}
	return highest(func(fn func(*Designation, Period)) {
		a.eachInForce(areaKey{kind: AreaCountry, code: country}, t, t, fn)
	})
}

// StayLevel returns the highest level of any designation EachInForce finds
// for the stay [from, to) in the region or the cell, and the first designation
// at that level.
func (a *Areas) StayLevel(region string, cell uint64, from, to Time) (RiskLevel, *Designation) {
	if a == nil || len(a.byArea) == 0 {
		return 0, nil
	}
	return highest(func(fn func(*Designation, Period)) { a.EachInForce(region, cell, from, to, fn) })
}

// AreaExposure is the kind of exposure a counted stay overlapping a
// designation at level l gives: ExposureAreaHigh or ExposureAreaMedium; ok is
// false otherwise (a low designation, or none, exposes nobody). Area-risk
// facts have one home, the tracer, which finds every overlap in either order
// and sends it as an exposure event the engine applies (ExposureKind.Fact),
// and takes it back when a designation is replaced.
func AreaExposure(l RiskLevel) (k ExposureKind, ok bool) {
	switch l {
	case RiskHigh:
		return ExposureAreaHigh, true
	case RiskMedium:
		return ExposureAreaMedium, true
	}
	return 0, false
}

// H3 index layout (h3geo.org/docs/core-library/h3Indexing): resolution in bits
// 52-55, then fifteen 3-bit digits, digit r at bits 3*(15-r)..3*(15-r)+2; unused
// digits are 7.
const (
	h3ResShift = 52
	h3ResMask  = uint64(0xF) << h3ResShift
)

// H3Resolution returns the resolution of an H3 cell index.
func H3Resolution(cell uint64) int { return int((cell & h3ResMask) >> h3ResShift) }

// H3Parent returns the parent of cell at resolution res (the cell itself when res
// is not coarser). Pure bit arithmetic: no cgo on the hot path.
func H3Parent(cell uint64, res int) uint64 {
	cur := H3Resolution(cell)
	if res >= cur || res < 0 {
		return cell
	}
	out := cell&^h3ResMask | uint64(res)<<h3ResShift
	for r := res + 1; r <= cur; r++ {
		out |= uint64(7) << (3 * (15 - r))
	}
	return out
}
