package guard

import (
	"slices"
	"time"

	"healthcode/scoring"
)

// insertTime inserts t into the sorted ts.
func insertTime(ts []scoring.Time, t scoring.Time) []scoring.Time {
	i, _ := slices.BinarySearch(ts, t)
	return slices.Insert(ts, i, t)
}

// countIn counts the times of the sorted ts in the window (at-w, at].
func countIn(ts []scoring.Time, at scoring.Time, w time.Duration) int {
	lo := int64(at) - int64(w/time.Second)
	i, _ := slices.BinarySearchFunc(ts, lo, func(t scoring.Time, lo int64) int {
		if int64(t) <= lo {
			return -1
		}
		return 1
	})
	j, _ := slices.BinarySearchFunc(ts, at, func(t, at scoring.Time) int {
		if t <= at {
			return -1
		}
		return 1
	})
	return j - i
}

// stands reports whether an alert raised at one of the sorted ex still
// stands at at: e <= at < e+w for some e.
func stands(ex []scoring.Time, at scoring.Time, w time.Duration) bool {
	return countIn(ex, at, w) > 0
}

// near reports whether some e of the sorted ex lies within w of at on either
// side, so an alert raised there covers at and no new one is raised.
func near(ex []scoring.Time, at scoring.Time, w time.Duration) bool {
	return countIn(ex, at.Add(w-time.Second), 2*w-time.Second) > 0
}

// dropBefore drops the times of the sorted ts before t.
func dropBefore(ts []scoring.Time, t scoring.Time) []scoring.Time {
	i, _ := slices.BinarySearch(ts, t)
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}
