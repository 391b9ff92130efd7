package bench

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"
)

// TestCodesSmoke runs the codes section alone at quick sizes and checks that
// its four report keys are present, finite and beside a baseline measured in
// the same run. It asserts nothing about the figures themselves.
func TestCodesSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := Options{Quick: true, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	r := NewReport()
	if err := Codes(ctx, &o, r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"codes_requests_per_sec", "codes_p99_ms", "codes_bytes_per_person", "codes_update_to_token_p99_ms"} {
		var f *Figure
		for i := range r.Figures {
			if r.Figures[i].Key == k {
				f = &r.Figures[i]
			}
		}
		if f == nil {
			t.Errorf("no figure %s", k)
			continue
		}
		if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) || f.Baseline == "" || math.IsNaN(f.BaselineValue) {
			t.Errorf("%s = %v beside %q = %v", k, f.Value, f.Baseline, f.BaselineValue)
		}
		t.Logf("%s = %.2f %s (baseline %s: %.2f)", k, f.Value, f.Unit, f.Baseline, f.BaselineValue)
	}
}
