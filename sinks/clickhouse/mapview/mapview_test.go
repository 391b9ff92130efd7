package mapview_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthcode/sinks/pagetest"

	"healthcode/bench"
	"healthcode/scoring"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
	"healthcode/sinks/clickhouse/mapview"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var awayRE = regexp.MustCompile(`<tr class="away" data-cell="([0-9a-f]+)" data-value="(\d+)"`)

var polygonRE = regexp.MustCompile(`<polygon class="cell hit" data-cell="([0-9a-f]+)" data-value="(\d+)"`)

// TestMap_InChromium runs a simulated province through the pipeline into a
// fresh database, serves the map page over it, renders it in headless
// Chromium (screenshots kept in the artifact directory) and checks in the
// DOM that a hexagon is drawn for every cell with exposures on the busiest
// day, with the count the exposures table gives when each exposure is placed
// in Go (scoring.H3Parent) at the cell of the exposed person's stay.
func TestMap_InChromium(t *testing.T) {
	pagetest.NeedTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ch := chtest.Start(t)
	o := &bench.Options{Quick: true, Out: t.TempDir(), ClickHouse: ch, E2EPeople: 3000, E2EDays: 21,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := bench.EndToEnd(ctx, o, bench.NewReport()); err != nil {
		t.Fatalf("EndToEnd: %v", err)
	}
	co := ch
	co.Database = o.E2EDatabase
	c, err := clickhouse.Open(ctx, co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+co.Database)
		c.Close()
	})
	h, err := mapview.New(mapview.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var day time.Time
	if err := c.Conn().QueryRow(ctx, "SELECT day FROM exposures_daily WHERE place_kind IN ('venue', 'cell') GROUP BY day ORDER BY uniqMerge(exposures) DESC, day LIMIT 1").Scan(&day); err != nil {
		t.Fatal(err)
	}
	want := expectedCells(t, ctx, c, day, 7)
	if len(want) == 0 {
		t.Fatalf("no exposures with a located stay on %s", day.Format("2006-01-02"))
	}
	dir := pagetest.ArtifactDir(t)
	url := srv.URL + "/map?by=exposures&day=" + day.Format("2006-01-02")
	dom := string(pagetest.Chromium(t, "--dump-dom", url))
	got := map[string]uint64{}
	for _, m := range polygonRE.FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.ParseUint(m[2], 10, 64)
		got[m[1]] = n
	}
	drawn := len(got)
	if drawn == 0 {
		t.Fatal("no hexagon drawn with exposures")
	}
	// Cells far from where most people stayed are listed beside the map.
	for _, m := range awayRE.FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.ParseUint(m[2], 10, 64)
		got[m[1]] = n
	}
	t.Logf("%d cells with exposures: %d drawn, %d listed far away", len(want), drawn, len(got)-drawn)
	if len(got) != len(want) {
		t.Errorf("%d cells shown with exposures, want %d", len(got), len(want))
	}
	for cell, n := range want {
		if got[cell] != n {
			t.Errorf("cell %s: drawn with %d exposures, want %d", cell, got[cell], n)
		}
	}
	if n := strings.Count(dom, "<polygon "); n <= len(want) {
		t.Errorf("%d polygons: the province's other cells are not drawn", n)
	}
	if !strings.Contains(dom, `<polyline class="series" data-colour="red"`) || !strings.Contains(dom, `<line class="today"`) {
		t.Error("the colour chart lacks the red series or the day's mark")
	}
	shot := func(name, url string) {
		path := filepath.Join(dir, name)
		pagetest.Chromium(t, "--screenshot="+path, "--window-size=1300,800", "--hide-scrollbars", url)
		if st, err := os.Stat(path); err != nil || st.Size() < 5000 {
			t.Errorf("no screenshot at %s: %v", path, err)
		}
		t.Logf("screenshot: %s", path)
	}
	shot("map-exposures.png", url)

	// Red persons per cell at the end of the last day.
	redURL := srv.URL + "/map?by=colour&colour=red"
	dom = string(pagetest.Chromium(t, "--dump-dom", redURL))
	if n := len(polygonRE.FindAllString(dom, -1)); n == 0 {
		t.Error("no cell drawn with red persons")
	}
	shot("map-red.png", redURL)

	// Bad parameters get a one-sentence 400.
	res, err := http.Get(srv.URL + "/map?day=yesterday")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("day=yesterday: status %d, want 400", res.StatusCode)
	}
}

// expectedCells places each exposure of day at res in Go: the cell of the
// exposed person's check-in or travel stay among its evidence.
func expectedCells(t *testing.T, ctx context.Context, c *clickhouse.Client, day time.Time, res int) map[string]uint64 {
	t.Helper()
	stays := map[[2]string]uint64{}
	rows, err := c.Conn().Query(ctx, "SELECT toString(person_key), event_id, cell FROM events FINAL WHERE kind IN ('checkin', 'travel') AND cell != 0")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p, id string
		var cell uint64
		if err := rows.Scan(&p, &id, &cell); err != nil {
			t.Fatal(err)
		}
		stays[[2]string{p, id}] = cell
	}
	rows.Close()
	rows, err = c.Conn().Query(ctx, "SELECT toString(exposed_key), evidence FROM exposures FINAL WHERE toDate(exposed_at) = toDate(?)", day.Format("2006-01-02"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var p string
		var ev []string
		if err := rows.Scan(&p, &ev); err != nil {
			t.Fatal(err)
		}
		for _, id := range ev {
			if cell, ok := stays[[2]string{p, id}]; ok {
				out[strconv.FormatUint(scoring.H3Parent(cell, res), 16)]++
				break
			}
		}
	}
	return out
}
