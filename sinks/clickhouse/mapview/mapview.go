package mapview

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"healthcode/sinks/clickhouse"
)

// Options configure the page. The zero value is valid but for Client.
type Options struct {
	Client   *clickhouse.Client // the pipeline's ClickHouse database; required
	Res      int                // default H3 resolution of the map, 0..15; default 7 (about 5 km² a cell)
	MaxCells int                // most cells drawn; default 5000
	Lookback time.Duration      // how far back stays are searched for an exposure's cell; default 16 days
	Timeout  time.Duration      // of the page's queries; default 20s
	Logger   *slog.Logger       // default slog.Default()
}

func (o *Options) setDefaults() {
	if o.Res == 0 {
		o.Res = 7
	}
	if o.MaxCells <= 0 {
		o.MaxCells = 5000
	}
	if o.Lookback <= 0 {
		o.Lookback = 16 * 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if o.Client == nil {
		return fmt.Errorf("mapview: no ClickHouse client")
	}
	if o.Res < 0 || o.Res > 15 {
		return fmt.Errorf("mapview: resolution %d is not 0 to 15", o.Res)
	}
	return nil
}

// Handler serves the map page.
type Handler struct {
	o Options
}

// New returns the page's handler.
func New(o Options) (*Handler, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Handler{o: o}, nil
}

// Register mounts the page at GET /map on mux.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle("GET /map", h) }

// colourRE is what ?colour= may be: a policy colour name.
var colourRE = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

// request is a page request, validated.
type request struct {
	Day    time.Time
	By     string // "exposures" or "colour"
	Colour string
	Res    int
}

func (h *Handler) parse(r *http.Request, last time.Time) (request, error) {
	q := r.URL.Query()
	req := request{Day: last, By: "exposures", Colour: "red", Res: h.o.Res}
	if v := q.Get("day"); v != "" {
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			return req, fmt.Errorf("day must be a date, YYYY-MM-DD")
		}
		req.Day = d
	}
	switch v := q.Get("by"); v {
	case "", "exposures":
	case "colour":
		req.By = "colour"
	default:
		return req, fmt.Errorf("by must be exposures or colour")
	}
	if v := q.Get("colour"); v != "" {
		if !colourRE.MatchString(v) {
			return req, fmt.Errorf("colour must be a colour name (lowercase letters)")
		}
		req.Colour = v
	}
	if v := q.Get("res"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 15 {
			return req, fmt.Errorf("res must be an H3 resolution, 0 to 15")
		}
		req.Res = n
	}
	return req, nil
}

// ServeHTTP renders the page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	conn := h.o.Client.Conn()
	first, last, err := dayRange(ctx, conn)
	if err != nil {
		h.fail(w, "read the days with data", err)
		return
	}
	if last.Year() < 2000 { // min/max over no rows
		first, last = time.Time{}, time.Time{}
	}
	req, err := h.parse(r, last)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	page := pageData{Req: req, First: first, Last: last}
	if !last.IsZero() {
		foot, err := footprint(ctx, conn, req.Res, h.o.MaxCells)
		if err != nil {
			h.fail(w, "read the province's cells", err)
			return
		}
		var values map[uint64]uint64
		if req.By == "exposures" {
			values, err = exposuresByCell(ctx, conn, req.Day, req.Res, h.o.Lookback)
		} else {
			values, err = colourByCell(ctx, conn, req.Day, req.Res, req.Colour)
		}
		if err != nil {
			h.fail(w, "read the day's values per cell", err)
			return
		}
		ser, err := colourSeries(ctx, conn)
		if err != nil {
			h.fail(w, "read the colour counts", err)
			return
		}
		page.Map = drawMap(foot, values, h.o.MaxCells)
		page.Chart = drawChart(ser, req.Day)
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, &page); err != nil {
		h.fail(w, "render the page", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
	w.Write(b.Bytes())
}

func (h *Handler) fail(w http.ResponseWriter, what string, err error) {
	h.o.Logger.Warn("map page: "+what, slog.Any("error", err))
	http.Error(w, "the map could not "+what+" from ClickHouse", http.StatusServiceUnavailable)
}

// pageData is what the template shows.
type pageData struct {
	Req         request
	First, Last time.Time
	Map         *mapSVG
	Chart       *chartSVG
}

func (p *pageData) DayValue() string   { return p.Req.Day.Format("2006-01-02") }
func (p *pageData) FirstValue() string { return p.First.Format("2006-01-02") }
func (p *pageData) LastValue() string  { return p.Last.Format("2006-01-02") }
func (p *pageData) What() string {
	if p.Req.By == "exposures" {
		return "exposures"
	}
	return p.Req.Colour + " persons"
}

var pageTmpl = template.Must(template.New("map").Parse(pageHTML))
