package scoring_test

import (
	"errors"
	"strings"
	"testing"

	"healthcode/scoring"
)

// A close-contact exposure marks the exposed person from the exposure to the
// case's report; other exposures, and a close exposure without a window, mark
// nobody. The engine raises exactly the mark CloseMark builds.
func TestEngine_CloseExposureRaisesCloseMark(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	caseKey := personKey(2)
	close := scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose),
		At: at("1h"), End: at("2d"), Text: caseKey.String(), ID: "x1", Source: "tracing"}
	want, ok, err := scoring.CloseMark(&close)
	if err != nil || !ok {
		t.Fatalf("CloseMark = %+v, %v, %v", want, ok, err)
	}
	if want != (scoring.Mark{Person: alice, Level: scoring.MarkClose, From: at("1h"), To: at("2d"), Source: caseKey, ID: "x1"}) {
		t.Errorf("CloseMark = %+v", want)
	}
	if _, err := eng.Apply(&close, at("1h"), nil); err != nil {
		t.Fatal(err)
	}
	if got := eng.TakeMarks(); len(got) != 1 || got[0] != want {
		t.Errorf("engine raised %+v, want [%+v]", got, want)
	}
	// A close exposure without a window (reported_at unknown) gives the
	// retraction of its mark, which the engine raises only if it had raised
	// the mark.
	noWindow := scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose), At: at("3h"), ID: "x2"}
	if m, ok, err := scoring.CloseMark(&noWindow); !ok || err != nil || m != (scoring.Mark{Person: alice, Level: scoring.MarkClose, ID: "x2", Retracted: true}) {
		t.Errorf("CloseMark(x2) = %+v, %v, %v; want the retraction of x2's mark", m, ok, err)
	}
	if _, err := eng.Apply(&noWindow, at("3h"), nil); err != nil {
		t.Fatal(err)
	}
	if got := eng.TakeMarks(); len(got) != 0 {
		t.Errorf("x2 raised %+v", got)
	}
	for _, ev := range []scoring.Event{
		{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureSecondary), At: at("3h"), End: at("2d"), ID: "x3"}, // the chain stops
		{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureCompanion), At: at("3h"), End: at("2d"), ID: "x4"}, // not a close definition
		{Person: alice, Kind: scoring.KindCheckin, At: at("3h"), End: at("4h"), Place: "V1", Text: "not a key", ID: "c1"},         // not an exposure
	} {
		if m, ok, err := scoring.CloseMark(&ev); ok || err != nil {
			t.Errorf("CloseMark(%s) = %+v, %v, %v; want no mark", ev.ID, m, ok, err)
		}
		if _, err := eng.Apply(&ev, at("3h"), nil); err != nil {
			t.Fatal(err)
		}
		if got := eng.TakeMarks(); len(got) != 0 {
			t.Errorf("%s raised %+v", ev.ID, got)
		}
	}
}

// A close exposure naming its case by something that is not a person key is
// refused, as a bad event, before it touches any state; the error does not
// quote the text.
func TestEngine_CloseExposureWithBadCaseKey(t *testing.T) {
	eng := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{})
	ev := scoring.Event{Person: alice, Kind: scoring.KindExposure, Sub: uint8(scoring.ExposureClose),
		At: at("1h"), End: at("2d"), Text: "zz-not-hex-zz", ID: "x1"}
	if _, _, err := scoring.CloseMark(&ev); err == nil {
		t.Fatal("CloseMark accepted a malformed case key")
	}
	ups, err := eng.Apply(&ev, at("1h"), nil)
	if !errors.Is(err, scoring.ErrBadEvent) {
		t.Fatalf("Apply: %v, want ErrBadEvent", err)
	}
	if strings.Contains(err.Error(), ev.Text) {
		t.Errorf("error quotes the text: %v", err)
	}
	if len(ups) != 0 || eng.Len() != 0 || len(eng.TakeMarks()) != 0 {
		t.Errorf("a refused event left %d updates, %d persons, or marks", len(ups), eng.Len())
	}
}

// A mark survives its event form; a mark event whose source is not a person
// key fails to decode instead of losing the source.
func TestEvent_MarkRoundTrip(t *testing.T) {
	m := scoring.Mark{Person: alice, Level: scoring.MarkClose, From: at("1h"), To: at("2d"), Source: personKey(2), ID: "x1"}
	ev := scoring.MarkEvent(m)
	got, err := ev.Mark()
	if err != nil || got != m {
		t.Fatalf("Mark() = %+v, %v; want %+v", got, err, m)
	}
	caseMark := scoring.Mark{Person: alice, Level: scoring.MarkCase, From: at("1h"), ID: "pcr-1"}
	ev = scoring.MarkEvent(caseMark)
	if got, err := ev.Mark(); err != nil || got != caseMark {
		t.Fatalf("case Mark() = %+v, %v", got, err)
	}
	for _, text := range []string{"abc", strings.Repeat("g", 32)} {
		ev.Text = text
		if got, err := ev.Mark(); err == nil {
			t.Errorf("Text %q: Mark() = %+v, want an error", text, got)
		} else if strings.Contains(err.Error(), text) {
			t.Errorf("error quotes the text: %v", err)
		}
	}
}
