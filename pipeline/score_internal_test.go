package pipeline

import (
	"errors"
	"testing"
	"time"

	"healthcode/scoring"
)

// TestPartNow_WallClockOutOfRange checks that a broken wall clock fails the
// batch (wallErr) instead of firing every timer (MaxTime).
func TestPartNow_WallClockOutOfRange(t *testing.T) {
	now := time.Date(2020, 3, 16, 10, 0, 0, 0, time.UTC)
	pt := &part{s: &score{o: &Options{Clock: ClockWall, Now: func() time.Time { return now }}}}
	good := pt.now()
	if pt.wallErr != nil || good != scoring.MustTime("2020-03-16T10:00:00Z") {
		t.Fatalf("now = %v, %v", good, pt.wallErr)
	}
	now = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := pt.now(); got != good || got == scoring.MaxTime {
		t.Errorf("out-of-range clock gave %v, want the last good reading %v", got, good)
	}
	if !errors.Is(pt.wallErr, scoring.ErrTimeRange) {
		t.Errorf("wallErr = %v, want a time-range error", pt.wallErr)
	}
}
