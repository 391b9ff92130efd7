package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Figure is one measured number of the report, beside its baseline.
type Figure struct {
	Key      string  `json:"key"`   // report.json key, e.g. "scoring_events_per_sec_per_core"
	Value    float64 `json:"value"` // the measurement
	Unit     string  `json:"unit"`  // "events/s", "bytes", "ms", ...
	Baseline string  `json:"baseline,omitempty"`
	// BaselineValue is the baseline measured in the same run; NaN where the
	// baseline is a published figure (then Baseline says so and where from).
	BaselineValue float64 `json:"-"`
	Goal          string  `json:"goal,omitempty"` // e.g. ">= 2000000"
	Note          string  `json:"note,omitempty"` // how it was measured
}

// Report is the output of one `make bench` run.
type Report struct {
	Started time.Time
	Took    time.Duration
	Machine string
	Figures []Figure
	Notes   []string // free text: profiles, caveats
}

// NewReport starts a report, describing the machine it runs on.
func NewReport() *Report {
	return &Report{Started: time.Now(), Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
}

// Add appends figures.
func (r *Report) Add(fs ...Figure) { r.Figures = append(r.Figures, fs...) }

// Note appends a line of free text.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Value returns the value of the figure with key (NaN if absent).
func (r *Report) Value(key string) float64 {
	for _, f := range r.Figures {
		if f.Key == key {
			return f.Value
		}
	}
	return math.NaN()
}

// jsonNumber turns NaN and infinities into null.
func jsonNumber(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// WriteFiles writes report.json and report.md into dir. report.json holds
// every figure's value under its key at the top level (so runs compare over
// time), its baseline under "baselines", and the full figures.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	top := map[string]any{}
	baselines := map[string]any{}
	for _, f := range r.Figures {
		top[f.Key] = jsonNumber(f.Value)
		if f.Baseline != "" {
			baselines[f.Key] = map[string]any{"name": f.Baseline, "value": jsonNumber(f.BaselineValue)}
		}
	}
	top["baselines"] = baselines
	top["figures"] = r.Figures
	top["started"] = r.Started.UTC().Format(time.RFC3339)
	top["took_seconds"] = r.Took.Seconds()
	top["machine"] = r.Machine
	top["notes"] = r.Notes
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644)
}

// Markdown renders the report as a table, each figure beside its baseline.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# healthcode benchmark report\n\n%s, started %s, took %s.\n\n", r.Machine,
		r.Started.UTC().Format(time.RFC3339), r.Took.Round(time.Second))
	b.WriteString("| figure | value | baseline (same run) | ratio | goal |\n|---|---|---|---|---|\n")
	for _, f := range r.Figures {
		base, ratio := "", ""
		if f.Baseline != "" {
			base = f.Baseline
			if !math.IsNaN(f.BaselineValue) {
				base = fmt.Sprintf("%s: %s", f.Baseline, human(f.BaselineValue))
				if f.BaselineValue != 0 {
					ratio = fmt.Sprintf("%.2f", f.Value/f.BaselineValue)
				}
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s %s | %s | %s | %s |\n", f.Key, human(f.Value), f.Unit, base, ratio, f.Goal)
	}
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(&b, "\n- `%s`: %s", f.Key, f.Note)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n\n## Notes\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "\n- %s", n)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func human(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.4gk", v/1e3)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}
