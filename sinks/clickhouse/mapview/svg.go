package mapview

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/uber/h3-go/v4"
)

// mapSVG is the drawn map.
type mapSVG struct {
	SVG     template.HTML
	Cells   int    // hexagons drawn
	Hit     int    // of which with a value
	Max     uint64 // the largest value
	Total   uint64 // the sum of the values
	Legend  []legendStep
	Dropped int        // cells left out past MaxCells
	Outside int        // cells without a value left out, far from where most people stayed
	Away    []awayCell // cells with a value out there, listed instead
}

type legendStep struct {
	Fill  string
	Label string
}

// awayCell is a cell with a value outside the map's view.
type awayCell struct {
	Cell  string
	Value uint64
	At    string // its centre, latitude and longitude
}

// trimmed returns the weighted 5th and 95th percentiles of xs, widened by a
// quarter of their distance on each side (at least 0.05 degrees).
func trimmed(xs, ws []float64) [2]float64 {
	if len(xs) == 0 {
		return [2]float64{}
	}
	idx := make([]int, len(xs))
	var total float64
	for i := range idx {
		idx[i] = i
		total += ws[i]
	}
	sort.Slice(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	lo, hi := xs[idx[0]], xs[idx[len(idx)-1]]
	var run float64
	loSet := false
	for _, i := range idx {
		run += ws[i]
		if !loSet && run >= total*0.05 {
			lo, loSet = xs[i], true
		}
		if run >= total*0.95 {
			hi = xs[i]
			break
		}
	}
	m := math.Max((hi-lo)/4, 0.05)
	return [2]float64{lo - m, hi + m}
}

// shades from the lowest to the highest value; noValue for the footprint.
var shades = []string{"#fde0c5", "#facba6", "#f59e72", "#e8603c", "#c0272d", "#7f0d1e"}

const noValue = "#e7ebef"

const mapW, mapH, pad = 640.0, 560.0, 12.0

func shade(v, max uint64) string {
	if v == 0 {
		return noValue
	}
	i := int(math.Ceil(float64(v)/float64(max)*float64(len(shades)))) - 1
	return shades[min(max0(i), len(shades)-1)]
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

// drawMap draws every cell of the footprint and of values (at most limit,
// those with values first), shaded by value.
func drawMap(foot, values map[uint64]uint64, limit int) *mapSVG {
	m := &mapSVG{}
	seen := map[uint64]bool{}
	var cells []uint64
	for c, v := range values {
		if v > 0 {
			cells = append(cells, c)
			seen[c] = true
			m.Max = max(m.Max, v)
			m.Total += v
		}
	}
	sort.Slice(cells, func(i, j int) bool {
		return values[cells[i]] > values[cells[j]] || values[cells[i]] == values[cells[j]] && cells[i] < cells[j]
	})
	var rest []uint64
	for c := range foot {
		if !seen[c] {
			rest = append(rest, c)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i] < rest[j] })
	cells = append(cells, rest...)
	if len(cells) > limit {
		m.Dropped = len(cells) - limit
		cells = cells[:limit]
	}
	// The view: where most people stayed, the 5th to 95th percentile of the
	// cells' centres on each axis weighted by the persons who stayed there,
	// with a margin, so stays far away (trips across the country) do not
	// shrink the province to a dot. Cells outside it are not drawn; those
	// with a value are listed beside the map (Away).
	lats, lngs := make([]float64, len(cells)), make([]float64, len(cells))
	weights := make([]float64, len(cells))
	for i, c := range cells {
		ll := h3.Cell(c).LatLng()
		lats[i], lngs[i], weights[i] = ll.Lat, ll.Lng, float64(max(foot[c], 1))
	}
	lo, hi := trimmed(lats, weights), trimmed(lngs, weights)
	minLat, maxLat, minLng, maxLng := lo[0], lo[1], hi[0], hi[1]
	var kept []uint64
	for i, c := range cells {
		if lats[i] >= minLat && lats[i] <= maxLat && lngs[i] >= minLng && lngs[i] <= maxLng {
			kept = append(kept, c)
			continue
		}
		if v := values[c]; v > 0 {
			m.Away = append(m.Away, awayCell{Cell: h3.Cell(c).String(), Value: v, At: fmt.Sprintf("%.2f, %.2f", lats[i], lngs[i])})
		} else {
			m.Outside++
		}
	}
	cells = kept
	bounds := make([]h3.CellBoundary, len(cells))
	for i, c := range cells {
		bounds[i] = h3.Cell(c).Boundary()
		for _, ll := range bounds[i] {
			minLat, maxLat = math.Min(minLat, ll.Lat), math.Max(maxLat, ll.Lat)
			minLng, maxLng = math.Min(minLng, ll.Lng), math.Max(maxLng, ll.Lng)
		}
	}
	// Equirectangular, x shrunk by cos(latitude) so hexagons keep their shape.
	kx := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	w, hgt := math.Max((maxLng-minLng)*kx, 1e-9), math.Max(maxLat-minLat, 1e-9)
	scale := math.Min((mapW-2*pad)/w, (mapH-2*pad)/hgt)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="H3 map">`, mapW, mapH, mapW, mapH)
	// Draw the footprint first, so cells with values lie on top.
	for pass := 0; pass < 2; pass++ {
		for i, c := range cells {
			v := values[c]
			if (v > 0) != (pass == 1) {
				continue
			}
			cls := "cell"
			if v > 0 {
				cls = "cell hit"
				m.Hit++
			}
			m.Cells++
			fmt.Fprintf(&b, `<polygon class="%s" data-cell="%s" data-value="%d" fill="%s" points="`, cls, h3.Cell(c).String(), v, shade(v, m.Max))
			for j, ll := range bounds[i] {
				if j > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", pad+(ll.Lng-minLng)*kx*scale, pad+(maxLat-ll.Lat)*scale)
			}
			fmt.Fprintf(&b, `"><title>%s: %d</title></polygon>`, h3.Cell(c).String(), v)
		}
	}
	b.WriteString(`</svg>`)
	m.SVG = template.HTML(b.String())
	if m.Max > 0 {
		for i, s := range shades {
			lo := uint64(math.Floor(float64(m.Max)*float64(i)/float64(len(shades)))) + 1
			hi := uint64(math.Floor(float64(m.Max) * float64(i+1) / float64(len(shades))))
			if hi < lo {
				continue
			}
			m.Legend = append(m.Legend, legendStep{Fill: s, Label: fmt.Sprintf("%d–%d", lo, hi)})
		}
	}
	return m
}

// chartSVG is the drawn chart of colour counts.
type chartSVG struct {
	SVG template.HTML
}

// colourFills are the usual health-code colours; others are grey.
var colourFills = map[string]string{"green": "#1e8e3e", "yellow": "#e8a700", "orange": "#ef6c00", "red": "#d93025"}

const chartW, chartH, chartPad = 520.0, 320.0, 40.0

// drawChart draws one line per colour, the counts at the end of each day,
// with a mark at day.
func drawChart(s *series, day time.Time) *chartSVG {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="colour counts by day">`, chartW, chartH, chartW, chartH)
	if len(s.Days) == 0 {
		b.WriteString(`<text x="20" y="40">no colour changes yet</text></svg>`)
		return &chartSVG{SVG: template.HTML(b.String())}
	}
	var top int64 = 1
	for _, c := range s.Colours {
		for _, n := range s.Counts[c] {
			top = max(top, n)
		}
	}
	n := len(s.Days)
	x := func(i int) float64 {
		if n == 1 {
			return chartPad + (chartW-2*chartPad)/2
		}
		return chartPad + float64(i)*(chartW-2*chartPad)/float64(n-1)
	}
	y := func(v int64) float64 { return chartH - chartPad - float64(v)/float64(top)*(chartH-2*chartPad) }
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`, chartPad, chartPad, chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<text x="4" y="%.0f" font-size="11">%d</text><text x="4" y="%.0f" font-size="11">0</text>`, chartPad+4, top, chartH-chartPad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11">%s</text>`, chartPad, chartH-chartPad+16, s.Days[0].Format("01-02"))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end">%s</text>`, chartW-chartPad, chartH-chartPad+16, s.Days[n-1].Format("01-02"))
	for i, d := range s.Days {
		if d.Equal(day) {
			fmt.Fprintf(&b, `<line class="today" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#555" stroke-dasharray="3,3"/>`, x(i), chartPad, x(i), chartH-chartPad)
		}
	}
	for k, c := range s.Colours {
		fill, ok := colourFills[c]
		if !ok {
			fill = "#777"
		}
		fmt.Fprintf(&b, `<polyline class="series" data-colour="%s" fill="none" stroke="%s" stroke-width="2" points="`, html.EscapeString(c), fill)
		for i, v := range s.Counts[c] {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(i), y(v))
		}
		last := s.Counts[c][n-1]
		fmt.Fprintf(&b, `"><title>%s</title></polyline>`, html.EscapeString(c))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="10" height="10" fill="%s"/><text x="%.0f" y="%d" font-size="12">%s %d</text>`,
			chartW-chartPad-110, 8+k*16, fill, chartW-chartPad-95, 17+k*16, html.EscapeString(c), last)
	}
	b.WriteString(`</svg>`)
	return &chartSVG{SVG: template.HTML(b.String())}
}
