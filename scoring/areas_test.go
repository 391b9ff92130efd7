package scoring_test

import (
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

func TestH3Parent_MatchesH3(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var cells []h3.Cell
	for range 150 {
		ll := h3.NewLatLng(rng.Float64()*180-90, rng.Float64()*360-180)
		for res := 0; res <= 15; res++ {
			cells = append(cells, h3.LatLngToCell(ll, res))
		}
	}
	for _, p := range h3.Pentagons(15) { // pentagons have a deleted sub-sequence
		cells = append(cells, p)
	}
	cells = append(cells, h3.Cell(venueCell))
	for _, c := range cells {
		res := c.Resolution()
		for pr := 0; pr <= res; pr++ {
			if got, want := scoring.H3Parent(uint64(c), pr), uint64(c.Parent(pr)); got != want {
				t.Fatalf("H3Parent(%s, %d) = %x, h3 says %s", c, pr, got, c.Parent(pr))
			}
		}
		// Not coarser: the cell itself.
		for _, pr := range []int{res, res + 1, 15, -1} {
			if got := scoring.H3Parent(uint64(c), pr); got != uint64(c) {
				t.Errorf("H3Parent(%s, %d) = %x, want the cell", c, pr, got)
			}
		}
	}
}

func TestAreas_Replacement(t *testing.T) {
	a := scoring.NewAreas()
	add := func(id string, lvl scoring.RiskLevel, from, until scoring.Time) bool {
		return a.Add(scoring.Designation{Kind: scoring.AreaCountry, Code: "DEU", Level: lvl, From: from, Until: until, ID: id})
	}
	// Added out of order: the later one (by From) replaces the earlier from its From on.
	add("b-low", low, at("10d"), 0)
	add("a-high", high, t0, 0)
	add("c-medium", medium, at("20d"), at("25d")) // then nothing
	add("d-other", high, at("-5d"), at("-3d"))    // ended before t0
	if a.Len() != 4 {
		t.Fatalf("Len %d, want 4", a.Len())
	}
	f := func(when scoring.Time, want scoring.RiskLevel, wantID string) {
		t.Helper()
		lvl, d := a.CountryAt("DEU", when)
		id := ""
		if d != nil {
			id = d.ID
		}
		if lvl != want || id != wantID {
			t.Errorf("at %s: level %d (%s), want %d (%s)", fmtTime(when), lvl, id, want, wantID)
		}
	}
	f(at("-6d"), 0, "")
	f(at("-5d"), high, "d-other")
	f(at("-3d", "-1s"), high, "d-other")
	f(at("-3d"), 0, "") // until is exclusive
	f(at("-1s"), 0, "")
	f(t0, high, "a-high") // from is inclusive
	f(at("10d", "-1s"), high, "a-high")
	f(at("10d"), low, "b-low")
	f(at("20d", "-1s"), low, "b-low")
	f(at("20d"), medium, "c-medium")
	f(at("25d", "-1s"), medium, "c-medium")
	f(at("25d"), 0, "")
	f(at("100d"), 0, "")
	if lvl, _ := a.CountryAt("FRA", t0); lvl != 0 {
		t.Errorf("FRA level %d", lvl)
	}

	// Same area and start: the larger event id wins, whichever arrives first.
	if !add("e-low", low, at("30d"), 0) || !add("f-high", high, at("30d"), 0) {
		t.Error("new designations refused")
	}
	if add("e-low", low, at("30d"), 0) {
		t.Error("the smaller id replaced the larger one")
	}
	if add("f-high", high, at("30d"), 0) {
		t.Error("an exact duplicate was added")
	}
	f(at("30d"), high, "f-high")
	if a.Len() != 5 {
		t.Errorf("Len %d, want 5", a.Len())
	}
}

// Stays and designations are half-open intervals [from, until): a stay ending
// exactly when a designation starts, or starting exactly when it ends, does
// not overlap it; one second of overlap does.
func TestAreas_OverlapEdges(t *testing.T) {
	a := scoring.NewAreas()
	d1, d2 := at("1d"), at("3d")
	a.Add(scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: high, From: d1, Until: d2, ID: "r1"})
	f := func(name string, from, to scoring.Time, want scoring.RiskLevel) {
		t.Helper()
		lvl, d := a.StayLevel("330102", 0, from, to)
		if lvl != want {
			t.Errorf("%s: level %d, want %d", name, lvl, want)
		}
		if (d != nil) != (want != 0) || (d != nil && d.ID != "r1") {
			t.Errorf("%s: designation %+v", name, d)
		}
	}
	f("ends at the start", at("1d", "-4h"), d1, 0)
	f("ends 1s after the start", at("1d", "-4h"), at("1d", "1s"), high)
	f("starts at the end", d2, at("3d", "4h"), 0)
	f("starts 1s before the end", at("3d", "-1s"), at("3d", "4h"), high)
	f("covers the designation", t0, at("5d"), high)
	f("inside", at("2d"), at("2d", "1h"), high)
	f("instant at the start", d1, d1, high)
	f("instant at the end", d2, d2, 0)
	f("before", t0, at("12h"), 0)
	if lvl, _ := a.StayLevel("330103", 0, t0, at("5d")); lvl != 0 {
		t.Errorf("another region: level %d", lvl)
	}
	if lvl, _ := a.StayLevel("", 0, t0, at("5d")); lvl != 0 {
		t.Errorf("no region, no cell: level %d", lvl)
	}
}

// A stay picks the highest level among its region and every designated parent
// of its cell, at any instant of the stay.
func TestAreas_StayLevelHighest(t *testing.T) {
	a := scoring.NewAreas()
	a.Add(scoring.Designation{Kind: scoring.AreaRegion, Code: "330102", Level: low, From: t0, ID: "region-low"})
	a.Add(scoring.Designation{Kind: scoring.AreaH3, Cell: venueRes7, Level: medium, From: t0, ID: "h7-medium"})
	a.Add(scoring.Designation{Kind: scoring.AreaH3, Cell: venueRes8, Level: high, From: at("2d"), Until: at("3d"), ID: "h8-high"})
	// The same cell: medium, replaced by low from day 5.
	a.Add(scoring.Designation{Kind: scoring.AreaH3, Cell: venueRes7, Level: low, From: at("5d"), ID: "h7-low"})
	f := func(name, region string, cell uint64, from, to scoring.Time, want scoring.RiskLevel, wantID string) {
		t.Helper()
		lvl, d := a.StayLevel(region, cell, from, to)
		id := ""
		if d != nil {
			id = d.ID
		}
		if lvl != want || id != wantID {
			t.Errorf("%s: level %d (%s), want %d (%s)", name, lvl, id, want, wantID)
		}
	}
	f("region only", "330102", 0, at("1d"), at("1d", "5h"), low, "region-low")
	f("cell at day 1", "330102", venueCell, at("1d"), at("1d", "1h"), medium, "h7-medium")
	f("cell at day 2", "330102", venueCell, at("2d"), at("2d", "1h"), high, "h8-high")
	f("cell across days 1 to 4", "", venueCell, at("1d"), at("4d"), high, "h8-high")
	f("cell after the replacement", "", venueCell, at("6d"), at("6d", "1h"), low, "h7-low")
	f("res 8 cell itself", "", venueRes8, at("2d"), at("2d", "1h"), high, "h8-high")
	f("res 7 cell: a res 8 designation is finer", "", venueRes7, at("2d"), at("2d", "1h"), medium, "h7-medium")
	f("a cell elsewhere", "", farCell, at("2d"), at("2d", "1h"), 0, "")
	if lvl, _ := a.CountryAt("330102", at("1d")); lvl != 0 {
		t.Errorf("a region code looked up as a country: level %d", lvl)
	}
}

// Through the engine: a check-in ending exactly when a cell's designation
// starts does not count; one lasting a second longer does.
func TestEngine_StayEdgeAtDesignationStart(t *testing.T) {
	for _, c := range []struct {
		end  scoring.Time
		want uint8
	}{{at("1h"), 0}, {at("1h", "1s"), 1}} {
		r := newRunner(t, "domestic")
		r.step(designate("h8", scoring.AreaH3, "", venueRes8, high, at("1h"), 0))
		s := checkin("k1", t0, c.end, venueCell)
		r.step(s)
		r.advance(at("2h"))
		if u, _ := r.last(alice); u.Level != c.want {
			t.Errorf("check-in until %s: level %d, want %d", fmtTime(c.end), u.Level, c.want)
		}
	}
}
