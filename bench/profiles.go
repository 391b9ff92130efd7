package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// startCPUProfile profiles this process's CPU into path until the returned
// function is called (which may be called more than once). With an error,
// nothing is profiled and the function does nothing.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return func() {}, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return func() {}, fmt.Errorf("cpu profile: %w", err)
	}
	done := false
	return func() {
		if !done {
			done = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}, nil
}

// fetchHeapProfile saves the live-heap profile of the process serving
// /debug/pprof/ at addr (after a GC there) to path.
func fetchHeapProfile(ctx context.Context, addr, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// heapTop is the top of a heap profile's in-use bytes by function, as
// `go tool pprof -top -inuse_space` prints it (flat and cumulative).
func heapTop(path string, n int) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	prof, err := profile.Parse(f)
	if err != nil {
		return "", 0, fmt.Errorf("heap profile %s: %w", path, err)
	}
	vi := -1
	for i, st := range prof.SampleType {
		if st.Type == "inuse_space" {
			vi = i
		}
	}
	if vi < 0 {
		return "", 0, fmt.Errorf("heap profile %s: no inuse_space", path)
	}
	type fn struct {
		name      string
		flat, cum int64
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	var total int64
	for _, smp := range prof.Sample {
		v := smp.Value[vi]
		total += v
		addByFunction(flat, cum, smp, v)
	}
	var fs []fn
	for name, v := range flat {
		fs = append(fs, fn{name, v, cum[name]})
	}
	slices.SortFunc(fs, func(a, b fn) int {
		if a.flat != b.flat {
			return cmp.Compare(b.flat, a.flat)
		}
		return strings.Compare(a.name, b.name)
	})
	var b strings.Builder
	share := func(v int64) float64 { return 100 * float64(v) / float64(max(total, 1)) }
	fmt.Fprintf(&b, "%10s %6s %10s %6s  %s\n", "flat", "flat%", "cum", "cum%", "function")
	for _, f := range fs[:min(n, len(fs))] {
		fmt.Fprintf(&b, "%10s %5.1f%% %10s %5.1f%%  %s\n", mib(f.flat), share(f.flat), mib(f.cum), share(f.cum), f.name)
	}
	return b.String(), total, nil
}

// addByFunction adds v to flat for the functions of the sample's leaf
// location and to cum, once, for every function on its stack.
func addByFunction(flat, cum map[string]int64, smp *profile.Sample, v int64) {
	seen := map[string]bool{}
	for li, loc := range smp.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			name := line.Function.Name
			if li == 0 {
				flat[name] += v
			}
			if !seen[name] {
				seen[name] = true
				cum[name] += v
			}
		}
	}
}
