package bench

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"healthcode/pipeline"
)

// TestReadStageCPU attributes the samples of a profile written with the
// profile library: by stage label first, then by package for the unlabelled.
func TestReadStageCPU(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	score := fn(1, "healthcode/pipeline.(*part).applyMessage")
	kfk := fn(2, "github.com/segmentio/kafka-go.(*Writer).produce")
	kf := fn(3, "github.com/twmb/franz-go/pkg/kfake.(*Cluster).run")
	gc := fn(4, "runtime.gcBgMarkWorker")
	misc := fn(5, "main.main")
	var locs []*profile.Location
	for i, f := range []*profile.Function{score, kfk, kf, gc, misc} {
		locs = append(locs, &profile.Location{ID: uint64(i + 1), Line: []profile.Line{{Function: f}}})
	}
	ms := int64(time.Millisecond)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10 * ms,
		Function:   []*profile.Function{score, kfk, kf, gc, misc},
		Location:   locs,
		Sample: []*profile.Sample{
			{Location: []*profile.Location{locs[0]}, Value: []int64{4, 40 * ms}, Label: map[string][]string{"stage": {"score"}}},
			// kafka-go code on a stage's goroutine counts for the stage.
			{Location: []*profile.Location{locs[1], locs[0]}, Value: []int64{1, 10 * ms}, Label: map[string][]string{"stage": {"ingest"}}},
			{Location: []*profile.Location{locs[1]}, Value: []int64{2, 20 * ms}},
			{Location: []*profile.Location{locs[2]}, Value: []int64{1, 10 * ms}},
			{Location: []*profile.Location{locs[3]}, Value: []int64{1, 10 * ms}},
			{Location: []*profile.Location{locs[4]}, Value: []int64{1, 10 * ms}},
		},
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	sc, err := readStageCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	d := func(n int64) time.Duration { return time.Duration(n * ms) }
	if sc.total != d(100) || sc.stages["score"] != d(40) || sc.stages["ingest"] != d(10) || sc.stages["trace"] != 0 {
		t.Errorf("total %v, stages %v", sc.total, sc.stages)
	}
	want := map[string]time.Duration{"kafka-go background": d(20), "broker (kfake)": d(10), "gc": d(10), "other": d(10)}
	for k, v := range want {
		if sc.unlabeled[k] != v {
			t.Errorf("unlabelled %s = %v, want %v (all: %v)", k, sc.unlabeled[k], v, sc.unlabeled)
		}
	}
	if len(sc.top) == 0 || sc.top[0].name != score.Name || sc.top[0].flat != d(40) || sc.top[0].cum != d(50) {
		t.Errorf("top %+v, want %s first with flat 40ms, cum 50ms", sc.top, score.Name)
	}
	r := &Report{}
	reportProfile(r, "e2e", path, slog.New(slog.DiscardHandler))
	keys := map[string]float64{}
	for _, fg := range r.Figures {
		keys[fg.Key] = fg.Value
	}
	if keys["e2e_cpu_share_score"] != 40 || keys["e2e_cpu_share_ingest"] != 10 || len(keys) != len(pipeline.AllStages) {
		t.Errorf("figures %v, want a share per stage, score 40%% and ingest 10%%", keys)
	}
}
