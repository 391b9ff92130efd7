package tracing_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/scoring/tracing"
)

// The tracer tests name their people and times: trNames maps a key back to its
// name, and trT0 is the reference instant (times are written as offsets).

var trT0 = scoring.MustTime("2020-03-10T08:00:00+08:00")

func trAt(d time.Duration) scoring.Time { return trT0.Add(d) }

var trNames = map[scoring.PersonKey]string{}

func trWho(name string) scoring.PersonKey {
	sum := sha256.Sum256([]byte("tracer-test-" + name))
	k := scoring.PersonKey(sum[:16])
	trNames[k] = name
	return k
}

func trPolicy(t testing.TB) *scoring.Policy {
	t.Helper()
	p, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func trVenue(who, venue string, from, to time.Duration, id string) tracing.Presence {
	return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceVenue, Place: venue, Start: trAt(from), End: trAt(to), ID: id}
}

func trCell(who string, cell uint64, from, to time.Duration, id string) tracing.Presence {
	return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceCell, Cell: cell, Start: trAt(from), End: trAt(to), ID: id}
}

func trFlight(who string, row int16, id string) tracing.Presence {
	return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceFlight, Place: "CA936/2020-03-10", Start: trAt(0), End: trAt(11 * time.Hour), Row: row, ID: id}
}

// trCaseMark marks "case" from from to to.
func trCaseMark(from, to time.Duration) scoring.Mark {
	return scoring.Mark{Person: trWho("case"), Level: scoring.MarkCase, From: trAt(from), To: trAt(to), ID: "pcr-1"}
}

var trKinds = map[scoring.ExposureKind]string{
	scoring.ExposureClose: "close", scoring.ExposureCompanion: "companion", scoring.ExposureSecondary: "secondary",
	scoring.ExposureAreaHigh: "area-high", scoring.ExposureAreaMedium: "area-medium",
}

func trOffset(t scoring.Time) string {
	if t == 0 {
		return "0"
	}
	return (time.Duration(int64(t)-int64(trT0)) * time.Second).String()
}

// trDescribe renders exposures as sorted lines "kind exposed<-source place start..end at".
func trDescribe(xs []tracing.Exposure) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		src := trNames[x.Source]
		if x.Source == (scoring.PersonKey{}) {
			src = "-"
		}
		out = append(out, fmt.Sprintf("%s %s<-%s %s %s..%s at %s", trKinds[x.Kind], trNames[x.Exposed], src, x.Place,
			trOffset(x.Start), trOffset(x.End), trOffset(x.At)))
	}
	slices.Sort(out)
	return out
}

// trCurrent reduces a stream of exposure versions to the current set: the
// highest version of each id, without the retracted ones. It checks that
// every version of an id names the same identity and that versions rise.
func trCurrent(t testing.TB, xs []tracing.Exposure) []tracing.Exposure {
	t.Helper()
	last := map[string]tracing.Exposure{}
	var order []string
	for _, x := range xs {
		prev, ok := last[x.ID]
		if !ok {
			order = append(order, x.ID)
		} else if prev.Version >= x.Version || prev.Exposed != x.Exposed || prev.Source != x.Source || prev.Kind != x.Kind || prev.Place != x.Place {
			t.Errorf("exposure %s: version %d after %d, identity %v after %v", x.ID, x.Version, prev.Version,
				[]any{x.Exposed, x.Source, x.Kind, x.Place}, []any{prev.Exposed, prev.Source, prev.Kind, prev.Place})
		}
		last[x.ID] = x
	}
	var out []tracing.Exposure
	for _, id := range order {
		if x := last[id]; !x.Retracted {
			out = append(out, x)
		}
	}
	return out
}

// trExpect checks the current set of exposures of the stream got.
func trExpect(t *testing.T, what string, got []tracing.Exposure, want ...string) {
	t.Helper()
	if g := trDescribe(trCurrent(t, got)); !slices.Equal(g, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, g, want)
	}
}

func TestPresencesOf(t *testing.T) {
	p := trPolicy(t)
	fine := uint64(h3.LatLngToCell(h3.NewLatLng(30.2741, 120.1551), 15))
	cell8 := uint64(h3.Cell(fine).Parent(p.Contacts.CompanionH3Res))
	who := trWho("a")
	t1, t2 := trAt(0), trAt(90*time.Minute)
	for _, tc := range []struct {
		name string
		ev   scoring.Event
		want []tracing.Presence
		keys []string
	}{
		{"check-in with left_at and cell", scoring.Event{Person: who, Kind: scoring.KindCheckin, Place: "V1", Cell: fine, At: t1, End: t2, ID: "e1"},
			[]tracing.Presence{
				{Person: who, Kind: tracing.PlaceVenue, Place: "V1", Start: t1, End: t2, ID: "e1"},
				{Person: who, Kind: tracing.PlaceCell, Cell: cell8, Fine: fine, Start: t1, End: t2, ID: "e1"},
			}, []string{"v:V1", "c:" + h3.Cell(cell8).String()}},
		{"check-in without left_at: default stay", scoring.Event{Person: who, Kind: scoring.KindCheckin, Place: "V1", At: t1, ID: "e2"},
			[]tracing.Presence{{Person: who, Kind: tracing.PlaceVenue, Place: "V1", Start: t1, End: t1.Add(p.Params.CheckinDefaultStay.Std()), ID: "e2"}},
			[]string{"v:V1"}},
		{"travel without location or left_at", scoring.Event{Person: who, Kind: scoring.KindTravel, Place: "330102", Country: "CHN", At: t1, ID: "e3"},
			[]tracing.Presence{{Person: who, Kind: tracing.PlaceRegion, Place: "330102", Start: t1, End: t1.Add(p.Params.TravelDefaultStay.Std()), Travel: true, ID: "e3"}},
			[]string{"r:330102"}},
		{"travel with location", scoring.Event{Person: who, Kind: scoring.KindTravel, Place: "330102", Cell: fine, At: t1, End: t2, ID: "e4"},
			[]tracing.Presence{
				{Person: who, Kind: tracing.PlaceRegion, Place: "330102", Start: t1, End: t2, Travel: true, ID: "e4"},
				{Person: who, Kind: tracing.PlaceCell, Cell: cell8, Fine: fine, Start: t1, End: t2, Travel: true, ID: "e4"},
			}, []string{"r:330102", "c:" + h3.Cell(cell8).String()}},
		{"flight arrival: departed..arrived at the row", scoring.Event{Person: who, Kind: scoring.KindArrival, Place: "CA936/2020-03-16", Country: "DEU", Row: 23, At: t2, End: t1, ID: "e5"},
			[]tracing.Presence{{Person: who, Kind: tracing.PlaceFlight, Place: "CA936/2020-03-16", Start: t1, End: t2, Row: 23, ID: "e5"}},
			[]string{"f:CA936/2020-03-16"}},
		{"crew", scoring.Event{Person: who, Kind: scoring.KindArrival, Place: "CA936/2020-03-16", Row: scoring.RowCrew, At: t2, End: t1, ID: "e6"},
			[]tracing.Presence{{Person: who, Kind: tracing.PlaceFlight, Place: "CA936/2020-03-16", Start: t1, End: t2, Row: scoring.RowCrew, ID: "e6"}},
			[]string{"f:CA936/2020-03-16"}},
		{"left_at before the start", scoring.Event{Person: who, Kind: scoring.KindCheckin, Place: "V1", At: t2, End: t1, ID: "e7"},
			[]tracing.Presence{{Person: who, Kind: tracing.PlaceVenue, Place: "V1", Start: t2, End: t2, ID: "e7"}},
			[]string{"v:V1"}},
		{"test result: none", scoring.Event{Person: who, Kind: scoring.KindTest, At: t1, ID: "e8"}, nil, nil},
		{"exposure: none", scoring.Event{Person: who, Kind: scoring.KindExposure, At: t1, ID: "e9"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tracing.PresencesOf(&tc.ev, p)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			for i := range got {
				if k := got[i].PlaceKey(); k != tc.keys[i] {
					t.Errorf("PlaceKey %q, want %q", k, tc.keys[i])
				}
			}
		})
	}
}

// TestTracer_Boundaries checks each contact definition at its boundaries. The
// case's stays lie inside its window unless the row says otherwise.
func TestTracer_Boundaries(t *testing.T) {
	p := trPolicy(t)
	cl := p.Contacts.CloseOverlap.Std()
	co := p.Contacts.CompanionOverlap.Std()
	if cl != 15*time.Minute || co != 10*time.Minute || p.Contacts.CloseRows != 3 {
		t.Fatalf("domestic policy changed: close %s, companion %s, rows %d", cl, co, p.Contacts.CloseRows)
	}
	const h = time.Hour
	cell := uint64(h3.LatLngToCell(h3.NewLatLng(30.27, 120.15), 8))
	ck := "c:" + h3.Cell(cell).String()
	window := trCaseMark(-10*h, 10*h)
	for _, tc := range []struct {
		name string
		mark scoring.Mark
		ps   []tracing.Presence
		want []string
	}{
		{"venue: 15m overlap is close", window, []tracing.Presence{
			trVenue("case", "V", 0, h, "p1"), trVenue("b", "V", h-15*time.Minute, 2*h, "q1")},
			[]string{"close b<-case v:V 45m0s..1h0m0s at 1h0m0s"}},
		{"venue: 14m59s is not", window, []tracing.Presence{
			trVenue("case", "V", 0, h, "p1"), trVenue("b", "V", h-15*time.Minute+time.Second, 2*h, "q1")}, nil},
		{"venue: contained stay", window, []tracing.Presence{
			trVenue("case", "V", 0, 3*h, "p1"), trVenue("b", "V", h, h+cl, "q1")},
			[]string{"close b<-case v:V 1h0m0s..1h15m0s at 1h15m0s"}},
		{"venue: other venue", window, []tracing.Presence{
			trVenue("case", "V", 0, h, "p1"), trVenue("b", "W", 0, h, "q1")}, nil},
		{"cell: 10m overlap is companion", window, []tracing.Presence{
			trCell("case", cell, 0, h, "p1"), trCell("b", cell, h-co, 2*h, "q1")},
			[]string{"companion b<-case " + ck + " 50m0s..1h0m0s at 1h0m0s"}},
		{"cell: 9m59s is not", window, []tracing.Presence{
			trCell("case", cell, 0, h, "p1"), trCell("b", cell, h-co+time.Second, 2*h, "q1")}, nil},
		{"flight: rows within 3 are close, beyond are companions, crew is close", window, []tracing.Presence{
			trFlight("case", 20, "m1"), trFlight("r17", 17, "m1"), trFlight("r23", 23, "m1"), trFlight("r16", 16, "m1"),
			trFlight("r24", 24, "m1"), trFlight("r20", 20, "m1"), trFlight("crew", scoring.RowCrew, "m1")},
			[]string{
				"close crew<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"close r17<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"close r20<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"close r23<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"companion r16<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"companion r24<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
			}},
		{"flight: a crew case makes crew close and passengers companions", window, []tracing.Presence{
			trFlight("case", scoring.RowCrew, "m1"), trFlight("crew", scoring.RowCrew, "m1"), trFlight("r1", 1, "m1")},
			[]string{
				"close crew<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
				"companion r1<-case f:CA936/2020-03-10 0s..10h0m0s at 10h0m0s",
			}},
		{"window start: a stay ending at From-1s is outside", trCaseMark(11*h+time.Second, 20*h), []tracing.Presence{
			trFlight("case", 20, "m1"), trFlight("b", 21, "m1")}, nil},
		{"window start: a stay ending exactly at From is inside", trCaseMark(11*h, 20*h), []tracing.Presence{
			trFlight("case", 20, "m1"), trFlight("b", 21, "m1")},
			[]string{"close b<-case f:CA936/2020-03-10 11h0m0s..11h0m0s at 11h0m0s"}},
		{"window start: the overlap counts from From", trCaseMark(h, 20*h), []tracing.Presence{
			trVenue("case", "V", 0, h+cl, "p1"), trVenue("b", "V", 0, 2*h, "q1")},
			[]string{"close b<-case v:V 1h0m0s..1h15m0s at 1h15m0s"}},
		{"window start: 14m59s after From is not enough", trCaseMark(h+time.Second, 20*h), []tracing.Presence{
			trVenue("case", "V", 0, h+cl, "p1"), trVenue("b", "V", 0, 2*h, "q1")}, nil},
		{"window end: reported_at included", trCaseMark(-20*h, 0), []tracing.Presence{
			trFlight("case", 20, "m1"), trFlight("b", 21, "m1")},
			[]string{"close b<-case f:CA936/2020-03-10 0s..0s at 0s"}},
		{"window end: a stay starting after reported_at is outside", trCaseMark(-20*h, -time.Second), []tracing.Presence{
			trFlight("case", 20, "m1"), trFlight("b", 21, "m1")}, nil},
		{"window end: overlap clipped at reported_at", trCaseMark(-20*h, cl), []tracing.Presence{
			trVenue("case", "V", 0, 2*h, "p1"), trVenue("b", "V", 0, 2*h, "q1")},
			[]string{"close b<-case v:V 0s..15m0s at 15m0s"}},
		{"the case's own stays expose nobody", window, []tracing.Presence{
			trVenue("case", "V", 0, h, "p1"), trVenue("case", "V", 0, h, "p2")}, nil},
		{"region stays are not contacts", window, []tracing.Presence{
			{Person: trWho("case"), Kind: tracing.PlaceRegion, Place: "330102", Start: trAt(0), End: trAt(h), Travel: true, ID: "p1"},
			{Person: trWho("b"), Kind: tracing.PlaceRegion, Place: "330102", Start: trAt(0), End: trAt(h), Travel: true, ID: "q1"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Mark first, then presences; and presences first, then the mark: the same exposures.
			tr := tracing.New(p, tracing.Options{})
			got := tr.AddMark(tc.mark, nil)
			for _, pr := range tc.ps {
				got = tr.AddPresence(pr, got)
			}
			trExpect(t, "mark first", got, tc.want...)
			tr = tracing.New(p, tracing.Options{})
			var late []tracing.Exposure
			for _, pr := range tc.ps {
				late = tr.AddPresence(pr, late)
			}
			if len(late) != 0 {
				t.Fatalf("exposures before any mark: %q", trDescribe(late))
			}
			late = tr.AddMark(tc.mark, late)
			trExpect(t, "mark last", late, tc.want...)
			for i := range got {
				if got[i].ID != late[i].ID && len(got) == 1 {
					t.Errorf("ids differ with arrival order: %s vs %s", got[i].ID, late[i].ID)
				}
			}
		})
	}
}

func TestTracer_CaseMarkWindow(t *testing.T) {
	p := trPolicy(t)
	sampled, reported := trAt(0), trAt(30*time.Hour)
	m := scoring.CaseMark(trWho("case"), sampled, reported, "pcr-1", p)
	if m.From != sampled.Add(-48*time.Hour) || m.To != reported || m.Level != scoring.MarkCase {
		t.Fatalf("CaseMark = %+v", m)
	}
	tr := tracing.New(p, tracing.Options{})
	// Two days before the sample: the stay counts from From, 15 minutes exactly.
	got := tr.AddPresence(trVenue("case", "V", -49*time.Hour, -48*time.Hour+15*time.Minute, "p1"), nil)
	got = tr.AddPresence(trVenue("b", "V", -49*time.Hour, -47*time.Hour, "q1"), got)
	// A day earlier: outside.
	got = tr.AddPresence(trVenue("case", "W", -73*time.Hour, -71*time.Hour, "p2"), got)
	got = tr.AddPresence(trVenue("c", "W", -73*time.Hour, -71*time.Hour, "q2"), got)
	got = tr.AddMark(m, got)
	trExpect(t, "case mark", got, "close b<-case v:V -48h0m0s..-47h45m0s at -47h45m0s")
	x := got[0]
	if x.WindowEnd != reported || !slices.Equal(x.Evidence, []string{"pcr-1", "p1", "q1"}) || !strings.HasPrefix(x.ID, "exp-") {
		t.Errorf("exposure %+v", x)
	}
	ev := x.Event()
	if ev.Kind != scoring.KindExposure || ev.Sub != uint8(scoring.ExposureClose) || ev.Person != trWho("b") || ev.At != x.At || ev.ID != x.ID {
		t.Errorf("Event() = %+v", ev)
	}
}

func TestTracer_LatePresences(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	// Every order of (mark, case's stay, contact's stay) gives the one exposure.
	items := []string{"mark", "case", "b"}
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	var ids []string
	for _, o := range orders {
		tr := tracing.New(p, tracing.Options{})
		var got []tracing.Exposure
		for _, i := range o {
			switch items[i] {
			case "mark":
				got = tr.AddMark(trCaseMark(-h, 10*h), got)
			case "case":
				got = tr.AddPresence(trVenue("case", "V", 0, h, "p1"), got)
			case "b":
				got = tr.AddPresence(trVenue("b", "V", 30*time.Minute, 2*h, "q1"), got)
			}
		}
		trExpect(t, fmt.Sprint(o), got, "close b<-case v:V 30m0s..1h0m0s at 1h0m0s")
		if len(got) == 1 {
			ids = append(ids, got[0].ID)
		}
	}
	if len(slices.Compact(ids)) != 1 {
		t.Errorf("exposure ids depend on arrival order: %q", ids)
	}
}

func TestTracer_Duplicates(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	tr := tracing.New(p, tracing.Options{})
	pc, pb := trVenue("case", "V", 0, h, "p1"), trVenue("b", "V", 0, h, "q1")
	got := tr.AddPresence(pc, nil)
	got = tr.AddPresence(pb, got)
	got = tr.AddPresence(pb, got)
	if tr.Len() != 2 {
		t.Errorf("Len %d after a duplicate, want 2", tr.Len())
	}
	m := trCaseMark(-h, 10*h)
	got = tr.AddMark(m, got)
	got = tr.AddMark(m, got)
	got = tr.AddPresence(pc, got)
	got = tr.AddPresence(pb, got)
	trExpect(t, "duplicates", got, "close b<-case v:V 0s..1h0m0s at 1h0m0s")
	// A case mark from an earlier sample replaces the first: the exposure it
	// finds is the same but for its evidence, so one new version of the same
	// exposure is emitted.
	m2 := m
	m2.From, m2.ID = trAt(-2*h), "pcr-2"
	again := tr.AddMark(m2, nil)
	if len(again) != 1 || again[0].ID != got[0].ID || again[0].Version <= got[0].Version || again[0].Evidence[0] != "pcr-2" {
		t.Errorf("earlier case mark: %+v, want one new version of %s", again, got[0].ID)
	}
	// A later-sample mark changes nothing.
	if again := tr.AddMark(m, nil); len(again) != 0 {
		t.Errorf("the replaced mark again: %q", trDescribe(again))
	}
	// A copy of b's stay under another event id is a new presence, but the same exposure.
	pb2 := pb
	pb2.ID = "q1-resent"
	if again := tr.AddPresence(pb2, nil); len(again) != 0 || tr.Len() != 3 {
		t.Errorf("resent stay: %q, Len %d", trDescribe(again), tr.Len())
	}
	// Another stay of b at V, overlapping later, is a new overlap of the same
	// exposure: it gets a new version once the overlap changes its span.
	pb3 := pb
	pb3.Start, pb3.End, pb3.ID = trAt(30*time.Minute), trAt(2*h), "q3"
	if again := tr.AddPresence(pb3, nil); len(again) != 0 {
		t.Errorf("an overlap inside the known span: %q", trDescribe(again))
	}
	pc2 := trVenue("case", "V", 90*time.Minute, 150*time.Minute, "p2")
	trExpect(t, "a later overlap", append(append(got, again...), tr.AddPresence(pc2, nil)...), "close b<-case v:V 0s..2h0m0s at 2h0m0s")
	if tr.Len() != 5 {
		t.Errorf("Len %d, want 5", tr.Len())
	}
}

// The longer stay above gives an exposure with the same overlap: same id, so it
// must not be emitted twice.
func TestTracer_SameOverlapOnce(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	tr := tracing.New(p, tracing.Options{})
	got := tr.AddMark(trCaseMark(-h, 10*h), nil)
	got = tr.AddPresence(trVenue("case", "V", 0, h, "p1"), got)
	got = tr.AddPresence(trVenue("b", "V", 0, h, "q1"), got)
	got = tr.AddPresence(trVenue("b", "V", 0, 2*h, "q2"), got)
	trExpect(t, "same overlap", got, "close b<-case v:V 0s..1h0m0s at 1h0m0s")
}

func TestTracer_SecondaryContacts(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	cell := uint64(h3.LatLngToCell(h3.NewLatLng(30.27, 120.15), 8))
	tr := tracing.New(p, tracing.Options{})
	got := tr.AddMark(trCaseMark(-24*h, 48*h), nil)
	got = tr.AddPresence(trVenue("case", "V1", 0, h, "p1"), got)
	got = tr.AddPresence(trVenue("b", "V1", 0, h, "b1"), got)
	trExpect(t, "close contact", got, "close b<-case v:V1 0s..1h0m0s at 1h0m0s")
	closeEv := got[0].Event()
	bm, ok, err := scoring.CloseMark(&closeEv)
	if err != nil || !ok || bm.From != trAt(h) || bm.To != trAt(48*h) || bm.Source != trWho("case") || bm.Person != trWho("b") {
		t.Fatalf("CloseMark = %+v, %v, %v", bm, ok, err)
	}
	stays := []tracing.Presence{
		trVenue("b", "V2", 10*h, 11*h, "b2"),                // after the exposure: dangerous
		trVenue("c", "V2", 10*h, 11*h, "c2"),                // secondary
		trVenue("case", "V2", 10*h, 11*h, "p2"),             // the case is not its own secondary (but is the case's own stay)
		trVenue("b", "V3", -5*h, -4*h, "b3"),                // before b's exposure
		trVenue("d", "V3", -5*h, -4*h, "d3"),                // not exposed
		trCell("b", cell, 20*h, 21*h, "b4"),                 // cells are not a close definition
		trCell("e", cell, 20*h, 21*h, "e4"),                 // not exposed
		trVenue("b", "V5", 47*h+50*time.Minute, 50*h, "b5"), // ends in the window, 10 minutes
		trVenue("f", "V5", 47*h+50*time.Minute, 50*h, "f5"), // too short inside the window
		trVenue("b", "V6", 47*h+45*time.Minute, 50*h, "b6"), // exactly 15 minutes inside
		trVenue("g", "V6", 47*h+45*time.Minute, 50*h, "g6"), // secondary
		trFlight("b", 5, "fl"), trFlight("h", 8, "fl"), trFlight("i", 9, "fl"), trFlight("crew", scoring.RowCrew, "fl"),
	}
	// Half of the stays before the close mark, half after.
	var sec []tracing.Exposure
	for _, s := range stays[:6] {
		sec = tr.AddPresence(s, sec)
	}
	sec = tr.AddMark(bm, sec)
	for _, s := range stays[6:] {
		sec = tr.AddPresence(s, sec)
	}
	// The case's own V2 stay with c, under the case mark, is a close contact too.
	trExpect(t, "secondary", sec,
		"close b<-case v:V2 10h0m0s..11h0m0s at 11h0m0s",
		"close c<-case v:V2 10h0m0s..11h0m0s at 11h0m0s",
		"secondary c<-b v:V2 10h0m0s..11h0m0s at 11h0m0s",
		"secondary crew<-b f:CA936/2020-03-10 1h0m0s..11h0m0s at 11h0m0s",
		"secondary g<-b v:V6 47h45m0s..48h0m0s at 48h0m0s",
		"secondary h<-b f:CA936/2020-03-10 1h0m0s..11h0m0s at 11h0m0s",
	)
	// The chain stops: a secondary exposure marks nobody.
	for _, x := range sec {
		ev := x.Event()
		if _, ok, err := scoring.CloseMark(&ev); err != nil || ok != (x.Kind == scoring.ExposureClose) {
			t.Errorf("CloseMark(%s) ok=%v err=%v", trKinds[x.Kind], ok, err)
		}
	}
}

func TestTracer_RegionRisk(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	minStay := p.Params.RegionMinStay.Std()
	travel := func(who string, from, to time.Duration, id string) tracing.Presence {
		return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceRegion, Place: "330102", Start: trAt(from), End: trAt(to), Travel: true, ID: id}
	}
	stays := []tracing.Presence{
		travel("a", 0, minStay, "a1"),             // 4h: counts
		travel("b", 0, minStay-time.Second, "b1"), // 3h59m59s: does not
		travel("c", -10*h, -5*h, "c1"),            // before the designation
		travel("d", -10*h, 0, "d1"),               // ends as it starts: half-open, no
		travel("e", -10*h, time.Second, "e1"),     // one second inside
		travel("f", 100*h, 130*h, "f1"),           // after until
		travel("g", 90*h, 100*h, "g1"),            // ends exactly at until: counts
		{Person: trWho("h"), Kind: tracing.PlaceRegion, Place: "330102", Start: trAt(0), End: trAt(10 * h), ID: "h1"}, // not a travel stay
		{Person: trWho("i"), Kind: tracing.PlaceRegion, Place: "330103", Start: trAt(0), End: trAt(10 * h), Travel: true, ID: "i1"},
	}
	d := scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh, From: trAt(0), Until: trAt(100 * h), ID: "area-1"}
	want := []string{
		"area-high a<-- r:330102 0s..4h0m0s at 4h0m0s",
		"area-high e<-- r:330102 0s..1s at 1s",
		"area-high g<-- r:330102 90h0m0s..100h0m0s at 100h0m0s",
	}
	// Retroactive: the designation after the stays.
	tr := tracing.New(p, tracing.Options{})
	var got []tracing.Exposure
	for _, s := range stays {
		got = tr.AddPresence(s, got)
	}
	got = tr.AddDesignation(d, got)
	trExpect(t, "designation last", got, want...)
	for _, x := range got {
		if x.Exposed == trWho("a") && (!slices.Equal(x.Evidence, []string{"area-1", "a1"}) || x.Source != (scoring.PersonKey{}) || x.WindowEnd != 0) {
			t.Errorf("area exposure %+v", x)
		}
	}
	// Stays after the designation: the same.
	tr = tracing.New(p, tracing.Options{})
	got = tr.AddDesignation(d, nil)
	for _, s := range stays {
		got = tr.AddPresence(s, got)
	}
	trExpect(t, "designation first", got, want...)
	// Again: nothing new.
	if again := tr.AddDesignation(d, nil); len(again) != 0 {
		t.Errorf("duplicate designation: %q", trDescribe(again))
	}
	// Medium gives medium; low gives nothing.
	for _, lvl := range []scoring.RiskLevel{scoring.RiskMedium, scoring.RiskLow} {
		tr = tracing.New(p, tracing.Options{})
		dd := d
		dd.Level = lvl
		got = tr.AddPresence(stays[0], tr.AddDesignation(dd, nil))
		if lvl == scoring.RiskMedium {
			trExpect(t, "medium", got, "area-medium a<-- r:330102 0s..4h0m0s at 4h0m0s")
		} else {
			trExpect(t, "low", got)
		}
	}
}

func TestTracer_DesignationReplaced(t *testing.T) {
	p := trPolicy(t)
	const day = 24 * time.Hour
	high := scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh, From: trAt(0), ID: "d-high"}
	low := scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskLow, From: trAt(3 * day), ID: "d-low"}
	medium := scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskMedium, From: trAt(5 * day), Until: trAt(6 * day), ID: "d-medium"}
	travel := func(who string, from, to time.Duration) tracing.Presence {
		return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceRegion, Place: "330102", Start: trAt(from), End: trAt(to), Travel: true, ID: who + "-t"}
	}
	stays := []tracing.Presence{
		travel("a", day, day+5*time.Hour),     // high
		travel("b", 4*day, 4*day+5*time.Hour), // low by then
		travel("c", 2*day, 4*day),             // high until day 3
		travel("d", 5*day+time.Hour, 7*day),   // medium until day 6
		travel("e", 7*day, 8*day),             // after the medium one ends: nothing
	}
	want := []string{
		"area-high a<-- r:330102 24h0m0s..29h0m0s at 29h0m0s",
		"area-high c<-- r:330102 48h0m0s..72h0m0s at 96h0m0s",
		"area-medium d<-- r:330102 121h0m0s..144h0m0s at 168h0m0s",
	}
	for _, order := range [][]scoring.Designation{{high, low, medium}, {medium, low, high}, {low, high, medium}} {
		for _, stayFirst := range []bool{true, false} {
			tr := tracing.New(p, tracing.Options{})
			var got []tracing.Exposure
			if stayFirst {
				for _, s := range stays {
					got = tr.AddPresence(s, got)
				}
			}
			for _, d := range order {
				got = tr.AddDesignation(d, got)
			}
			if !stayFirst {
				for _, s := range stays {
					got = tr.AddPresence(s, got)
				}
			}
			name := fmt.Sprintf("order %s/%s/%s, stays first %v", order[0].ID, order[1].ID, order[2].ID, stayFirst)
			// In every order the later designations take back what the
			// open-ended high one gave after they start.
			trExpect(t, name, got, want...)
		}
	}
}

func TestTracer_H3Designations(t *testing.T) {
	p := trPolicy(t)
	const h = time.Hour
	res := p.Contacts.CompanionH3Res
	fineA := h3.LatLngToCell(h3.NewLatLng(30.2741, 120.1551), 15)
	// A venue in the same res-8 cell but another res-10 cell, and one far away.
	var fineB h3.Cell
	for _, c := range fineA.Parent(res).Children(10) {
		if c != fineA.Parent(10) {
			fineB = c.CenterChild(15)
			break
		}
	}
	fineC := h3.LatLngToCell(h3.NewLatLng(31.2304, 121.4737), 15)
	stay := func(who string, fine h3.Cell, travel bool, dur time.Duration) tracing.Presence {
		return tracing.Presence{Person: trWho(who), Kind: tracing.PlaceCell, Cell: uint64(fine.Parent(res)), Fine: uint64(fine),
			Start: trAt(0), End: trAt(dur), Travel: travel, ID: who + "-s"}
	}
	stays := []tracing.Presence{
		stay("a", fineA, false, h),
		stay("b", fineB, false, h),
		stay("c", fineC, false, h),
		stay("t4", fineA, true, 4*h),             // a travel location stay of 4 hours counts
		stay("t3", fineA, true, 4*h-time.Minute), // shorter does not
	}
	key := func(c h3.Cell) string { return "c:" + c.Parent(res).String() }
	for _, tc := range []struct {
		name string
		cell h3.Cell
		want []string
	}{
		{"res 5: parent of all but the far one", fineA.Parent(5), []string{
			"area-high a<-- " + key(fineA) + " 0s..1h0m0s at 1h0m0s",
			"area-high b<-- " + key(fineB) + " 0s..1h0m0s at 1h0m0s",
			"area-high t4<-- " + key(fineA) + " 0s..4h0m0s at 4h0m0s"}},
		{"res 8: the companion cell", fineA.Parent(8), []string{
			"area-high a<-- " + key(fineA) + " 0s..1h0m0s at 1h0m0s",
			"area-high b<-- " + key(fineB) + " 0s..1h0m0s at 1h0m0s",
			"area-high t4<-- " + key(fineA) + " 0s..4h0m0s at 4h0m0s"}},
		{"res 10: finer than the companion cell, by fine cell", fineA.Parent(10), []string{
			"area-high a<-- " + key(fineA) + " 0s..1h0m0s at 1h0m0s",
			"area-high t4<-- " + key(fineA) + " 0s..4h0m0s at 4h0m0s"}},
		{"res 15: the venue's own cell", fineB, []string{
			"area-high b<-- " + key(fineB) + " 0s..1h0m0s at 1h0m0s"}},
		{"another res-5 cell", fineC.Parent(5), []string{
			"area-high c<-- " + key(fineC) + " 0s..1h0m0s at 1h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := scoring.Designation{Kind: scoring.AreaH3, Code: tc.cell.String(), Cell: uint64(tc.cell), Level: scoring.RiskHigh, From: trAt(-h), ID: "h3"}
			tr := tracing.New(p, tracing.Options{})
			var got []tracing.Exposure
			for _, s := range stays {
				got = tr.AddPresence(s, got)
			}
			trExpect(t, "retroactive", tr.AddDesignation(d, got), tc.want...)
			tr = tracing.New(p, tracing.Options{})
			got = tr.AddDesignation(d, nil)
			for _, s := range stays {
				got = tr.AddPresence(s, got)
			}
			trExpect(t, "stays after", got, tc.want...)
		})
	}
}

func TestTracer_Expire(t *testing.T) {
	p := trPolicy(t)
	const h, day = time.Hour, 24 * time.Hour
	lookback := p.Contacts.Lookback.Std()
	tr := tracing.New(p, tracing.Options{})
	for i := range 10 {
		tr.AddPresence(trVenue("old", "V", time.Duration(i)*h, time.Duration(i)*h+h, fmt.Sprint("o", i)), nil)
	}
	tr.AddPresence(trVenue("b", "V", 0, h, "b0"), nil)
	tr.AddPresence(trVenue("b", "V", 10*day, 10*day+h, "b1"), nil)
	if tr.Len() != 12 {
		t.Fatalf("Len %d, want 12", tr.Len())
	}
	// Twenty hours past the lookback: the first day's stays have expired.
	tr.Expire(trAt(lookback + 20*h))
	if tr.Len() != 1 {
		t.Errorf("Len %d after Expire, want 1", tr.Len())
	}
	// A mark over the expired stays finds nothing; over the live one, b's stay.
	got := tr.AddPresence(trVenue("case", "V", 0, h, "p0"), nil) // ended before the horizon: ignored
	got = tr.AddPresence(trVenue("case", "V", 10*day, 10*day+h, "p1"), got)
	got = tr.AddMark(trCaseMark(-day, 11*day), got)
	trExpect(t, "after expiry", got, "close b<-case v:V 240h0m0s..241h0m0s at 241h0m0s")
	// A mark whose window ended before the horizon is ignored.
	if x := tr.AddMark(scoring.Mark{Person: trWho("b"), Level: scoring.MarkCase, From: trAt(-day), To: trAt(h), ID: "old"}, nil); len(x) != 0 {
		t.Errorf("expired mark: %q", trDescribe(x))
	}
	if x := tr.AddPresence(trVenue("case", "W", 10*day+23*h, 11*day+2*h, "p2"), nil); len(x) != 0 {
		t.Errorf("nobody at W yet: %q", trDescribe(x))
	}
	// Past the end of the case's window: b1 and p1 go, p2 stays but its mark has
	// expired, so c's stay with it exposes nobody.
	tr.Expire(trAt(lookback + 11*day + time.Second))
	if tr.Len() != 1 {
		t.Errorf("Len %d, want 1", tr.Len())
	}
	if x := tr.AddPresence(trVenue("c", "W", 10*day+23*h, 11*day+2*h, "c1"), nil); len(x) != 0 {
		t.Errorf("expired mark matched: %q", trDescribe(x))
	}
	tr.Expire(trAt(lookback + 12*day))
	if tr.Len() != 0 {
		t.Errorf("Len %d, want 0", tr.Len())
	}
}
