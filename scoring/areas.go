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
		a.h3Res |= 1 << h3Resolution(d.Cell)
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

// overlap returns the highest level in force for area k at any instant of
// the stay [from, to) (the instant from when from == to), and the designation
// that sets it. Stays and designations are both half-open: a stay ending
// exactly when a designation starts, or starting exactly when it ends, does
// not overlap it.
func (a *Areas) overlap(k areaKey, from, to Time) (RiskLevel, *Designation) {
	list := a.byArea[k]
	if to > from {
		to-- // whole seconds: [from, to) is [from, to-1]
	}
	var best RiskLevel
	var bestD *Designation
	for i := range list {
		d := &list[i]
		if d.From > to {
			break
		}
		end := d.Until // exclusive; 0 = open
		if i+1 < len(list) && (end == 0 || list[i+1].From < end) {
			end = list[i+1].From
		}
		if end != 0 && end <= from {
			continue
		}
		if d.Level > best {
			best, bestD = d.Level, d
		}
	}
	return best, bestD
}

// CountryAt returns the level of a country at instant t.
func (a *Areas) CountryAt(country string, t Time) (RiskLevel, *Designation) {
	if a == nil || len(a.byArea) == 0 {
		return 0, nil
	}
	return a.overlap(areaKey{kind: AreaCountry, code: country}, t, t)
}

// StayLevel returns the highest level of any designation of the region or of
// the cell's parents (at every resolution that has H3 designations) in force
// at some instant of the stay [from, to). region or cell may be empty/zero.
func (a *Areas) StayLevel(region string, cell uint64, from, to Time) (RiskLevel, *Designation) {
	if a == nil || len(a.byArea) == 0 {
		return 0, nil
	}
	var best RiskLevel
	var bestD *Designation
	if region != "" {
		best, bestD = a.overlap(areaKey{kind: AreaRegion, code: region}, from, to)
	}
	if cell != 0 && a.h3Res != 0 {
		res := h3Resolution(cell)
		for r := 0; r <= res; r++ {
			if a.h3Res&(1<<r) == 0 {
				continue
			}
			if l, d := a.overlap(areaKey{kind: AreaH3, cell: H3Parent(cell, r)}, from, to); l > best {
				best, bestD = l, d
			}
		}
	}
	return best, bestD
}

// H3 index layout (h3geo.org/docs/core-library/h3Indexing): resolution in bits
// 52-55, then fifteen 3-bit digits, digit r at bits 3*(15-r)..3*(15-r)+2; unused
// digits are 7.
const (
	h3ResShift = 52
	h3ResMask  = uint64(0xF) << h3ResShift
)

func h3Resolution(cell uint64) int { return int((cell & h3ResMask) >> h3ResShift) }

// H3Parent returns the parent of cell at resolution res (the cell itself when res
// is not coarser). Pure bit arithmetic: no cgo on the hot path.
func H3Parent(cell uint64, res int) uint64 {
	cur := h3Resolution(cell)
	if res >= cur || res < 0 {
		return cell
	}
	out := cell&^h3ResMask | uint64(res)<<h3ResShift
	for r := res + 1; r <= cur; r++ {
		out |= uint64(7) << (3 * (15 - r))
	}
	return out
}
