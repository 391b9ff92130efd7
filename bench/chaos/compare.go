package chaos

import (
	"fmt"
	"maps"
	"slices"
)

// check is one row of the comparison table.
type check struct {
	what       string
	ref, chaos string
	ok         bool
	detail     string // the first differences, when not ok
}

// compare checks the run under faults against the reference.
func compare(ref, got *snapshot) []check {
	var out []check
	// Within each run: one content per version, no version missing.
	for _, r := range []struct {
		name string
		sn   *snapshot
	}{{"reference", ref}, {"chaos", got}} {
		out = append(out, check{
			what: "versions reused with another content (" + r.name + ")",
			ref:  "0", chaos: fmt.Sprint(len(r.sn.conflicts)), ok: len(r.sn.conflicts) == 0, detail: first(r.sn.conflicts),
		}, check{
			what: "persons missing a version between 1 and their last (" + r.name + ")",
			ref:  "0", chaos: fmt.Sprint(len(r.sn.gaps)), ok: len(r.sn.gaps) == 0, detail: first(r.sn.gaps),
		})
	}
	out = append(out, check{what: "messages on hc.colour-updates (duplicates included)",
		ref: fmt.Sprint(ref.updates), chaos: fmt.Sprint(got.updates), ok: true, detail: "informational: re-sent updates after a restart are expected"})
	out = append(out, mapCheck("final colour and reasons per person (hc.colour-updates)", ref.final, got.final))
	out = append(out, historyCheck(ref.history, got.history))
	for _, t := range comparedTables {
		out = append(out, tableCheck(t, ref.tables[t], got.tables[t]))
	}
	return out
}

func first(xs []string) string {
	if len(xs) > 3 {
		return fmt.Sprintf("%v and %d more", xs[:3], len(xs)-3)
	}
	if len(xs) == 0 {
		return ""
	}
	return fmt.Sprint(xs)
}

func mapCheck(what string, ref, got map[string]string) check {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(ref)) {
		if g, ok := got[k]; !ok {
			diff = append(diff, k+": missing")
		} else if g != ref[k] {
			diff = append(diff, fmt.Sprintf("%s: %.80s instead of %.80s", k, g, ref[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := ref[k]; !ok {
			diff = append(diff, k+": not in the reference")
		}
	}
	return check{what: what, ref: fmt.Sprintf("%d persons", len(ref)), chaos: fmt.Sprintf("%d persons, %d differ", len(got), len(diff)),
		ok: len(diff) == 0, detail: first(diff)}
}

// historyCheck compares every person's versions 1..last, content by content.
func historyCheck(ref, got map[string]map[uint64][32]byte) check {
	var diff []string
	nref, ngot := 0, 0
	for _, vs := range ref {
		nref += len(vs)
	}
	for _, vs := range got {
		ngot += len(vs)
	}
	keys := slices.Sorted(maps.Keys(ref))
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := ref[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if !maps.Equal(ref[k], got[k]) {
			diff = append(diff, k)
		}
	}
	return check{what: "every version of every person, content by content", ref: fmt.Sprintf("%d versions", nref),
		chaos: fmt.Sprintf("%d versions, %d persons differ", ngot, len(diff)), ok: len(diff) == 0, detail: first(diff)}
}

func tableCheck(table string, ref, got rowSet) check {
	var missing, extra []string
	for h, n := range ref.set {
		if got.set[h] < n {
			missing = append(missing, rowText(ref, h))
		}
	}
	for h, n := range got.set {
		if ref.set[h] < n {
			extra = append(extra, rowText(got, h))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	what := "`" + table + "` FINAL, every row"
	for _, col := range slices.Sorted(maps.Keys(skippedIn[table])) {
		what += ", `" + col + "` aside"
	}
	c := check{what: what, ref: fmt.Sprintf("%d rows", ref.rows),
		chaos: fmt.Sprintf("%d rows, %d missing, %d extra", got.rows, len(missing), len(extra)),
		ok:    len(missing) == 0 && len(extra) == 0 && ref.rows > 0}
	if len(missing)+len(extra) > 0 {
		c.detail = "missing " + first(missing) + "; extra " + first(extra)
	} else if ref.rows == 0 {
		c.detail = "the reference has no rows: nothing was compared"
	}
	return c
}

func rowText(rs rowSet, h [32]byte) string {
	if t, ok := rs.sample[h]; ok {
		return t
	}
	return fmt.Sprintf("row %x", h[:6])
}
