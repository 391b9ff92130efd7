package tracing_test

import (
	"testing"
	"time"

	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// TestTracer_EarlierCaseMarkReplacesLater: a case's infectious window runs
// from its FIRST positive sample. When tests are processed out of order, the
// mark from a later sample arrives first; the earlier sample's mark then
// replaces it, so presences added afterwards are judged by the right window,
// and a later mark never widens it again.
func TestTracer_EarlierCaseMarkReplacesLater(t *testing.T) {
	tr := tracing.New(trPolicy(t), tracing.Options{})
	var out []tracing.Exposure
	// The case's stays: at V1 at hour 10, at V2 at hour 100.
	out = tr.AddPresence(trVenue("case", "V1", 10*time.Hour, 11*time.Hour, "c1"), out)
	out = tr.AddPresence(trVenue("case", "V2", 100*time.Hour, 101*time.Hour, "c2"), out)
	// Mark from the later sample first: window [hour 50, hour 120].
	later := trCaseMark(50*time.Hour, 120*time.Hour)
	later.ID = "pcr-2"
	out = tr.AddMark(later, out)
	// The earlier sample's mark: window [hour 0, hour 30] replaces it.
	out = tr.AddMark(trCaseMark(0, 30*time.Hour), out)
	// Re-sending the later mark changes nothing.
	out = tr.AddMark(later, out)
	if len(out) != 0 {
		t.Fatalf("no one else present yet, got %v", trDescribe(out))
	}
	// Now others arrive: at V1 within the first window (exposed), at V2 only
	// within the superseded one (not exposed).
	out = tr.AddPresence(trVenue("a", "V1", 10*time.Hour, 11*time.Hour, "a1"), out)
	out = tr.AddPresence(trVenue("b", "V2", 100*time.Hour, 101*time.Hour, "b1"), out)
	got := trDescribe(out)
	if len(got) != 1 || got[0][:len("close a<-case")] != "close a<-case" {
		t.Errorf("exposures = %v, want only a's close contact at V1", got)
	}
}

// TestTracer_NoSecondaryOnTheExposingLeg: a close contact exposed on a flight
// is exposed at its arrival; their window starts there and only touches the
// leg, so their neighbours on board are not their secondary contacts. A later
// stay in the window still is.
func TestTracer_NoSecondaryOnTheExposingLeg(t *testing.T) {
	tr := tracing.New(trPolicy(t), tracing.Options{})
	var out []tracing.Exposure
	out = tr.AddPresence(trFlight("y", 10, "fy"), out)
	out = tr.AddPresence(trFlight("z", 11, "fz"), out)
	out = tr.AddPresence(trVenue("y", "V9", 20*time.Hour, 21*time.Hour, "vy"), out)
	out = tr.AddPresence(trVenue("w", "V9", 20*time.Hour, 21*time.Hour, "vw"), out)
	// y's close exposure ended at the arrival (hour 11); the case reported at hour 48.
	mark := scoring.Mark{Person: trWho("y"), Level: scoring.MarkClose, From: trAt(11 * time.Hour), To: trAt(48 * time.Hour),
		Source: trWho("case"), ID: "exp-y"}
	out = tr.AddMark(mark, out)
	got := trDescribe(out)
	if len(got) != 1 || got[0][:len("secondary w<-y")] != "secondary w<-y" {
		t.Errorf("exposures = %v, want only w's secondary contact at V9", got)
	}
}

// A mark that arrives before its person's presences, then an hour of expiry
// sweeps: a presence arriving later at the marked person's place still finds
// the exposure.
func TestTracer_MarkBeforePresencesSurvivesSweep(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	tr := tracing.New(p, tracing.Options{})
	got := tr.AddMark(trCaseMark(-h, 10*h), nil)
	got = tr.AddPresence(trVenue("case", "V", 0, h, "p1"), got)
	tr.Expire(trAt(3 * h))
	tr.Expire(trAt(5 * h))
	got = tr.AddPresence(trVenue("late", "V", 15*time.Minute, 45*time.Minute, "q1"), got)
	trExpect(t, "late presence after sweeps", got, "close late<-case v:V 15m0s..45m0s at 45m0s")
}
