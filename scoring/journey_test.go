package scoring_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
)

// declareJourney is alice's return-journey declaration at t of flights (the
// first's date is the arrival helper's), from Frankfurt via PVG to 330106.
func declareJourney(id string, t scoring.Time, flights ...string) step {
	ev := scoring.JourneyEvent(alice, t, id, "declarations", scoring.Journey{Origin: "DEU", City: "Frankfurt",
		Flights: flights, Port: "PVG", Region: "330106", Planned: at("0s")})
	return evStep(ev)
}

// flightLeg is alice's manifest of flight (NUMBER/DATE) from origin to the
// airport dest, departing at dep and arriving at arr.
func flightLeg(id, flight, origin, dest string, dep, arr scoring.Time) step {
	return evStep(scoring.Event{Kind: scoring.KindArrival, At: arr, End: dep, Country: origin, Text: dest,
		Place: flight, Row: 23, ID: id, Source: "customs"})
}

// journeyOf is alice's journey row at now, rendered.
func journeyOf(r *runner, now scoring.Time) string {
	v, ok := r.eng.JourneyAt(alice, now)
	if !ok {
		return "none"
	}
	return renderJourney(v)
}

func renderJourney(v scoring.JourneyUpdate) string {
	s := fmt.Sprintf("%s board=%s land=%s arr=%s quar=%s rel=%s port=%s flight=%s rule=%s", v.Status,
		fmtTime(v.BoardedAt), fmtTime(v.LandedAt), fmtTime(v.ArrivedAt), fmtTime(v.QuarantineAt), fmtTime(v.ReleasedAt),
		v.LandedPort, v.LandedFlight, v.Rule)
	if v.OtherFlight {
		s += " other-flight"
	}
	return s
}

// TestJourney_EveryTransition walks one returnee through every status under
// the international policy: declared, boarded (a manifest sent at
// departure), landed at PVG (outside the province), arrived in the province
// (a travel record in 330106), in home observation (arrival-abroad, 14 days
// from landing), released; each journey update at its own time, versions
// rising by one.
func TestJourney_EveryTransition(t *testing.T) {
	r := newRunner(t, "international")
	dep, arr := at("-11h"), t0
	r.step(declareJourney("j1", at("-3d"), "CA936/2020-03-01"))
	if got := journeyOf(r, at("-3d")); !strings.HasPrefix(got, "declared ") {
		t.Fatalf("after the declaration: %s", got)
	}
	if u, _ := r.last(alice); u.Level != 1 || ruleIDs(u.Reasons)[0] != "journey-declared" || u.DeclarationRequired {
		t.Errorf("declared returnee's code: level %d %v, declaration required %v; want yellow journey-declared", u.Level, ruleIDs(u.Reasons), u.DeclarationRequired)
	}
	// The manifest arrives at departure, announcing the landing.
	r.clock = dep
	r.apply(flightLeg("m1", "CA936/2020-03-01", "DEU", "PVG", dep, arr).ev)
	if got := journeyOf(r, dep); !strings.HasPrefix(got, "boarded board="+fmtTime(dep)+" land=-") {
		t.Errorf("at departure: %s", got)
	}
	r.advance(arr) // the journey's timer: landed
	want := "landed board=" + fmtTime(dep) + " land=" + fmtTime(arr) + " arr=- quar=- rel=- port=PVG flight=CA936/2020-03-01 rule=arrival-abroad"
	if got := journeyOf(r, arr); got != want {
		t.Errorf("at landing:\n got %s\nwant %s", got, want)
	}
	train := at("4h")
	r.step(travel("t1", train, 0, "330106", 0))
	want = "quarantine board=" + fmtTime(dep) + " land=" + fmtTime(arr) + " arr=" + fmtTime(train) + " quar=" + fmtTime(train) + " rel=- port=PVG flight=CA936/2020-03-01 rule=arrival-abroad"
	if got := journeyOf(r, train); got != want {
		t.Errorf("in the province:\n got %s\nwant %s", got, want)
	}
	r.advance(at("14d"))
	want = "released board=" + fmtTime(dep) + " land=" + fmtTime(arr) + " arr=" + fmtTime(train) + " quar=" + fmtTime(train) + " rel=" + fmtTime(at("14d")) + " port=PVG flight=CA936/2020-03-01 rule="
	if got := journeyOf(r, at("14d")); got != want {
		t.Errorf("day 14:\n got %s\nwant %s", got, want)
	}
	var statuses []string
	ups := r.eng.TakeJourneys()
	for i, u := range ups {
		statuses = append(statuses, u.Status.String()+"@"+fmtTime(u.Effective))
		if u.Version != uint32(i+1) {
			t.Errorf("journey update %d has version %d", i, u.Version)
		}
	}
	wantS := []string{"declared@" + fmtTime(at("-3d")), "boarded@" + fmtTime(dep), "landed@" + fmtTime(arr),
		"quarantine@" + fmtTime(train), "released@" + fmtTime(at("14d"))}
	if fmt.Sprint(statuses) != fmt.Sprint(wantS) {
		t.Errorf("journey updates %v\nwant %v", statuses, wantS)
	}
	if last := ups[len(ups)-1]; last.Journey.Port != "PVG" || last.Journey.Region != "330106" || last.Journey.City != "Frankfurt" || last.ID != "j1" {
		t.Errorf("journey row %+v", last)
	}
}

// TestJourney_ArrivedWithoutRule: under domestic a returnee from a country no
// one designated has no arrival rule: landing at a port of the province is
// arriving there, and the journey ends at arrived.
func TestJourney_ArrivedWithoutRule(t *testing.T) {
	r := newRunner(t, "domestic")
	r.step(declareJourney("j1", at("-1d"), "CA936/2020-03-01"))
	r.step(flightLeg("m1", "CA936/2020-03-01", "JPN", "HGH", at("-4h"), t0))
	want := "arrived board=" + fmtTime(at("-4h")) + " land=" + fmtTime(t0) + " arr=" + fmtTime(t0) + " quar=- rel=- port=HGH flight=CA936/2020-03-01 rule="
	if got := journeyOf(r, t0); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	// A domestic connection to a port of the province also arrives there.
	r2 := newRunner(t, "domestic")
	r2.step(declareJourney("j1", at("-1d"), "CA936/2020-03-01", "CA1702/2020-03-01"))
	r2.step(flightLeg("m1", "CA936/2020-03-01", "JPN", "PEK", at("-4h"), t0))
	r2.step(flightLeg("m2", "CA1702/2020-03-01", "CHN", "HGH", at("3h"), at("5h")))
	if got := journeyOf(r2, at("5h")); !strings.HasPrefix(got, "arrived ") || !strings.Contains(got, "arr="+fmtTime(at("5h"))) || !strings.Contains(got, "port=PEK") {
		t.Errorf("connection: %s", got)
	}
}

// TestJourney_ManifestBeforeDeclaration: the same final journey, colour and
// reasons whichever of the manifest, the declaration, the travel record and
// a check-in comes first.
func TestJourney_ManifestBeforeDeclaration(t *testing.T) {
	steps := []step{
		declareJourney("j1", at("-3d"), "CA936/2020-03-01"),
		flightLeg("m1", "CA936/2020-03-01", "DEU", "PVG", at("-11h"), t0),
		travel("t1", at("4h"), 0, "330106", 0),
		checkin("c1", at("6h"), at("7h"), 0),
	}
	end := at("5d")
	var first string
	for _, order := range [][]int{{0, 1, 2, 3}, {1, 0, 2, 3}, {2, 3, 1, 0}, {3, 1, 2, 0}, {1, 2, 3, 0}} {
		r := newRunner(t, "international")
		r.clock = end // every input arrives late, as a shuffled replay does
		for _, i := range order {
			r.apply(steps[i].ev)
		}
		r.advance(end)
		u, _ := r.last(alice)
		got := journeyOf(r, end) + fmt.Sprintf(" | level %d %v", u.Level, ruleIDs(u.Reasons))
		if first == "" {
			first = got
			if !strings.HasPrefix(got, "quarantine ") || !strings.Contains(got, "arr="+fmtTime(at("4h"))) {
				t.Fatalf("order %v: %s", order, got)
			}
			continue
		}
		if got != first {
			t.Errorf("order %v:\n got %s\nwant %s", order, got, first)
		}
	}
}

// TestJourney_Undeclared: an arrival from abroad that no declaration covers is
// the arrival-undeclared rule (orange) with its own reason and clear; a
// declaration that covers it (its earliest flight's date minus a day at or
// before the arrival) clears it, one for a later trip does not.
func TestJourney_Undeclared(t *testing.T) {
	arrive := func(r *runner) { r.step(flightLeg("m1", "CA936/2020-03-01", "USA", "HGH", at("-11h"), t0)) }
	r := newRunner(t, "international")
	arrive(r)
	u, _ := r.last(alice)
	if u.Level != 2 || fmt.Sprint(ruleIDs(u.Reasons)) != "[arrival-undeclared]" || u.Reasons[0].Rule.ClearsEN == "" || !u.DeclarationRequired {
		t.Fatalf("undeclared arrival: level %d %v, declaration required %v", u.Level, ruleIDs(u.Reasons), u.DeclarationRequired)
	}
	if _, ok := r.eng.JourneyAt(alice, t0); ok {
		t.Error("an undeclared arrival has a journey row")
	}
	// A late declaration of the flight taken covers the arrival: home
	// observation (arrival-abroad) instead, and a journey row.
	r.step(declareJourney("j1", at("1h"), "CA936/2020-03-01"))
	if u, _ := r.last(alice); u.Level != 1 || fmt.Sprint(ruleIDs(u.Reasons)) != "[arrival-abroad]" || u.DeclarationRequired {
		t.Errorf("after a late declaration: level %d %v, declaration required %v", u.Level, ruleIDs(u.Reasons), u.DeclarationRequired)
	}
	if got := journeyOf(r, at("1h")); !strings.HasPrefix(got, "quarantine ") {
		t.Errorf("late declaration's journey: %s", got)
	}

	// The boundary: a declaration whose earliest flight is dated two days
	// after the arrival's day covers arrivals from a day before that date
	// (00:00 UTC) on: one second before is undeclared; the instant itself is
	// covered, by a declaration of another flight.
	floor := scoring.MustTime("2020-03-02T00:00:00Z")
	for _, c := range []struct {
		arrived scoring.Time
		rule    string
	}{{floor.Add(-time.Second), "arrival-undeclared"}, {floor, "arrival-abroad arrival-other-flight"}} {
		r := newRunner(t, "international")
		r.step(flightLeg("m1", "CA936/2020-03-01", "USA", "HGH", c.arrived.Add(-11*time.Hour), c.arrived))
		r.step(declareJourney("j1", c.arrived.Add(time.Hour), "CA936/2020-03-03"))
		if u, _ := r.last(alice); fmt.Sprint(ruleIDs(u.Reasons)) != "["+c.rule+"]" {
			t.Errorf("arrival at %s, flight declared for 03-03: %v, want %s", fmtTime(c.arrived), ruleIDs(u.Reasons), c.rule)
		}
	}
}

// TestJourney_ChangedFlight: landing on a flight other than the one declared
// is a fact (arrival-other-flight) and the row says so; an amended
// declaration naming the flight taken takes it back, and an amendment dated
// before the declaration in force changes nothing.
func TestJourney_ChangedFlight(t *testing.T) {
	r := newRunner(t, "international")
	r.step(declareJourney("j1", at("-3d"), "CA936/2020-03-01"))
	r.step(flightLeg("m1", "LH720/2020-03-01", "DEU", "HGH", at("-11h"), t0))
	got := journeyOf(r, t0)
	if !strings.HasPrefix(got, "quarantine ") || !strings.Contains(got, "flight=LH720/2020-03-01") || !strings.HasSuffix(got, "other-flight") {
		t.Errorf("changed flight: %s", got)
	}
	u, _ := r.last(alice)
	if fmt.Sprint(ruleIDs(u.Reasons)) != "[arrival-abroad arrival-other-flight]" {
		t.Errorf("changed flight reasons %v", ruleIDs(u.Reasons))
	}
	// An amendment older than the declaration in force: nothing changes.
	r.step(declareJourney("j0", at("-4d"), "LH720/2020-03-01"))
	if after := journeyOf(r, t0); after != got {
		t.Errorf("an older amendment changed the journey: %s", after)
	}
	// The amendment (dated after the first declaration) names the flight taken.
	r.step(declareJourney("j2", at("1h"), "LH720/2020-03-01"))
	if after := journeyOf(r, at("1h")); strings.HasSuffix(after, "other-flight") || !strings.HasPrefix(after, "quarantine ") {
		t.Errorf("after the amendment: %s", after)
	}
	if u, _ := r.last(alice); fmt.Sprint(ruleIDs(u.Reasons)) != "[arrival-abroad]" {
		t.Errorf("after the amendment reasons %v", ruleIDs(u.Reasons))
	}
	// A declaration of two legs matches either: the declared one is the landing.
	r2 := newRunner(t, "international")
	r2.step(declareJourney("j1", at("-3d"), "LH720/2020-03-01", "CA936/2020-03-01"))
	r2.step(flightLeg("m1", "LH720/2020-03-01", "DEU", "HGH", at("-11h"), t0))
	if got := journeyOf(r2, t0); strings.HasSuffix(got, "other-flight") {
		t.Errorf("second declared leg: %s", got)
	}
}

// TestJourney_StateRoundTrip: the journey record survives the changelog; the
// restored engine issues the next journey version, not the first again.
func TestJourney_StateRoundTrip(t *testing.T) {
	r := newRunner(t, "international")
	r.step(declareJourney("j1", at("-3d"), "CA936/2020-03-01"))
	r.clock = at("-11h")
	r.apply(flightLeg("m1", "CA936/2020-03-01", "DEU", "PVG", at("-11h"), t0).ev)
	r.apply(checkin("c1", at("-10h"), at("-9h"), 0).ev) // before landing: not an arrival in the province
	rec, ok := r.eng.AppendState(nil, alice)
	if !ok {
		t.Fatal("no state")
	}
	n := len(r.eng.TakeJourneys())
	fresh := scoring.NewEngine(loadPolicy(t, "international"), scoring.EngineOptions{})
	if _, err := fresh.LoadState(rec); err != nil {
		t.Fatal(err)
	}
	again, _ := fresh.AppendState(nil, alice)
	if string(again) != string(rec) {
		t.Error("the record changes on a round trip")
	}
	a, _ := r.eng.JourneyAt(alice, at("-11h"))
	b, _ := fresh.JourneyAt(alice, at("-11h"))
	if renderJourney(a) != renderJourney(b) || a.Version != b.Version || int(b.Version) != n {
		t.Errorf("restored journey %s v%d, want %s v%d (%d issued)", renderJourney(b), b.Version, renderJourney(a), a.Version, n)
	}
	// The landing timer was restored too.
	fresh.Advance(t0, nil)
	ups := fresh.TakeJourneys()
	if len(ups) != 1 || ups[0].Status != scoring.JourneyLanded || int(ups[0].Version) != n+1 {
		t.Errorf("restored engine at landing: %+v", ups)
	}
}

func TestJourney_EventRoundTrip(t *testing.T) {
	j := scoring.Journey{Origin: "ITA", City: "Milano", Flights: []string{"MU552/2020-03-05", "MU5130/2020-03-06"},
		Port: "PVG", Region: "330106", Planned: at("5d")}
	ev := scoring.JourneyEvent(alice, t0, "j1", "decl", j)
	got, err := ev.Journey()
	if err != nil || fmt.Sprint(got) != fmt.Sprint(j) {
		t.Errorf("round trip %+v %v, want %+v", got, err, j)
	}
	for _, bad := range []string{"", "PVG", "PVG 330106", "PVG 330106 CA936", "PVG 330106 CA936/2020-13-01", "PV 330106 CA936/2020-03-01",
		"PVG 330106 A/2020-03-01 B/2020-03-01 C/2020-03-01 D/2020-03-01 E/2020-03-01"} {
		ev.Place = bad
		if _, err := ev.Journey(); err == nil {
			t.Errorf("place %q accepted", bad)
		}
		if _, err := scoring.NewEngine(loadPolicy(t, "domestic"), scoring.EngineOptions{}).Apply(&ev, t0, nil); err == nil {
			t.Errorf("engine applied a journey of place %q", bad)
		}
	}
}

// FuzzLoadState_Journey: state records of persons with journey records (a
// declaration, legs, presences, a pending timer) and damaged copies of them
// either load and round-trip byte for byte or are refused with ErrBadState.
func FuzzLoadState_Journey(f *testing.F) {
	r := newRunner(f, "international")
	r.step(declareJourney("j1", at("-3d"), "CA936/2020-03-01", "CA1702/2020-03-02"))
	r.clock = at("-11h")
	r.apply(flightLeg("m1", "CA936/2020-03-01", "DEU", "PVG", at("-11h"), t0).ev)
	r.apply(checkin("c1", at("-10h"), at("-9h"), 0).ev)
	rec, _ := r.eng.AppendState(nil, alice)
	f.Add(rec)
	f.Add(rec[:len(rec)-3])
	p := loadPolicy(f, "international")
	f.Fuzz(func(t *testing.T, rec []byte) {
		eng := scoring.NewEngine(p, scoring.EngineOptions{})
		k, err := eng.LoadState(rec)
		if err != nil {
			if !errors.Is(err, scoring.ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			return
		}
		again, _ := eng.AppendState(nil, k)
		eng2 := scoring.NewEngine(p, scoring.EngineOptions{})
		if _, err := eng2.LoadState(again); err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if again2, _ := eng2.AppendState(nil, k); !bytes.Equal(again, again2) {
			t.Fatal("record changes on a second round trip")
		}
		eng.JourneyAt(k, at("1d"))
		eng.Advance(at("400d"), nil)
	})
}
