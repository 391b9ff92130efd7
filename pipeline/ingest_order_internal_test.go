package pipeline

import (
	"strings"
	"testing"

	"healthcode/scoring"
)

// A batch's person events reach each partition in time order (ties by event
// id) between designations, which keep their place.
func TestInTimeOrder_SortsBetweenDesignations(t *testing.T) {
	ev := func(id string, at scoring.Time) scoring.Event {
		return scoring.Event{Kind: scoring.KindCheckin, ID: id, At: at}
	}
	area := scoring.Event{Kind: scoring.KindArea, ID: "area", At: 2}
	evs := []scoring.Event{ev("b", 5), ev("a2", 3), ev("a1", 3), area, ev("d", 9), ev("c", 1)}
	inTimeOrder(evs)
	var got []string
	for _, e := range evs {
		got = append(got, e.ID)
	}
	if s := strings.Join(got, " "); s != "a1 a2 b area c d" {
		t.Errorf("order %s, want a1 a2 b area c d", s)
	}
	inTimeOrder(nil) // nothing to sort
}
