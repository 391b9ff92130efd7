package main

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// metricRef is one place in deploy/ that names metrics: a dashboard query, a
// Prometheus rule, a relabelling of __name__.
type metricRef struct {
	where string
	expr  string   // PromQL, or a __name__ regex when isRegex
	names []string // the metric names a PromQL expr selects
	regex bool
}

// promSynthetic are the series Prometheus itself adds to every target and
// alerting rules write; a query may name them without any process exporting
// them.
var promSynthetic = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE"}

// deployMetricRefs returns every query of the Grafana dashboard and every
// Prometheus rule expression and __name__ relabelling of a YAML file under
// deploy/ (Prometheus configuration and rule files, and Kubernetes
// PrometheusRule resources), less the names recording rules define.
func deployMetricRefs(t *testing.T) []metricRef {
	t.Helper()
	var refs []metricRef
	walk(dashboard(t), "expr", func(v any) {
		refs = append(refs, metricRef{where: "grafana/healthcode.json", expr: str(v), names: metricNames(str(v))})
	})
	recorded := map[string]bool{}
	err := filepath.WalkDir(deployDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return err
		}
		rel, _ := filepath.Rel(deployDir, p)
		for _, doc := range readYAML(t, p) {
			groups := get(doc, "groups")
			if str(doc["kind"]) == "PrometheusRule" {
				groups = get(doc, "spec", "groups")
			}
			for _, g := range asList(groups) {
				for _, r := range asList(get(g, "rules")) {
					if n := str(get(r, "record")); n != "" {
						recorded[n] = true
					}
					e := str(get(r, "expr"))
					refs = append(refs, metricRef{where: rel + " rule " + str(get(r, "record")) + str(get(r, "alert")), expr: e, names: metricNames(e)})
				}
			}
			for _, rf := range strs(get(doc, "rule_files")) {
				if m, _ := filepath.Glob(filepath.Join(filepath.Dir(p), rf)); len(m) == 0 {
					t.Errorf("%s: rule_files %s matches no file", rel, rf)
				}
			}
			for _, sc := range asList(get(doc, "scrape_configs")) {
				for _, rc := range asList(get(sc, "metric_relabel_configs")) {
					if slices.Equal(strs(get(rc, "source_labels")), []string{"__name__"}) {
						refs = append(refs, metricRef{where: rel + " job " + str(get(sc, "job_name")) + " metric_relabel_configs",
							expr: str(get(rc, "regex")), regex: true})
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range refs {
		refs[i].names = slices.DeleteFunc(refs[i].names, func(n string) bool { return recorded[n] || slices.Contains(promSynthetic, n) })
	}
	return refs
}

// sampleNames returns the name of every sample of /metrics text (a
// histogram's as its _bucket, _sum and _count series).
func sampleNames(body string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	return out
}

// dataDriven are the metrics a process exports only once input has decided
// their labels (pipeline/observe_zero.go says why): everything else a deploy
// file names is exported by a fresh process.
var dataDriven = []string{"healthcode_persons", "healthcode_consumer_lag"}

// checkDeployMetrics checks every metric deploy/ names against live /metrics
// scrapes of the processes the deploy files run (by command: "run",
// "codes serve"): each name is in a scrape taken after input has flowed
// (drained), and, unless dataDriven, already in one of a fresh process.
func checkDeployMetrics(t *testing.T, fresh, drained map[string]string) {
	t.Helper()
	exported := func(scrapes map[string]string) map[string][]string {
		out := map[string][]string{} // name -> the commands exporting it
		for cmd, body := range scrapes {
			for n := range sampleNames(body) {
				out[n] = append(out[n], cmd)
			}
		}
		return out
	}
	live, early := exported(drained), exported(fresh)
	for cmd, body := range drained {
		if !sampleNames(body)["go_goroutines"] {
			t.Fatalf("the %s scrape has no go_goroutines: not a /metrics of healthcode:\n%.500s", cmd, body)
		}
	}
	var names []string
	for n := range live {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := 0
	for _, r := range deployMetricRefs(t) {
		if r.regex {
			re, err := regexp.Compile("^(?:" + r.expr + ")$")
			if err != nil {
				t.Errorf("%s: regex %q: %v", r.where, r.expr, err)
				continue
			}
			if !slices.ContainsFunc(names, re.MatchString) {
				t.Errorf("%s: regex %q matches no metric the processes export", r.where, r.expr)
			}
			checked++
			continue
		}
		for _, n := range r.names {
			checked++
			if live[n] == nil {
				t.Errorf("%s: %q names %s, which no live healthcode process exports (run, codes serve)", r.where, r.expr, n)
				continue
			}
			if early[n] == nil && !slices.Contains(dataDriven, n) {
				t.Errorf("%s: %q names %s, which a fresh process does not export (create its series at zero)", r.where, r.expr, n)
			}
		}
	}
	if checked == 0 {
		t.Fatal("deploy/ names no metric")
	}
	t.Logf("%d metric names of deploy/ checked against the live /metrics of %d processes", checked, len(drained))
}

func TestSampleNames(t *testing.T) {
	got := sampleNames("# HELP x_seconds X.\n# TYPE x_seconds histogram\nx_seconds_bucket{le=\"1\"} 0\nx_seconds_sum 0\nx_seconds_count 0\ngo_goroutines 7\n")
	for _, n := range []string{"x_seconds_bucket", "x_seconds_sum", "x_seconds_count", "go_goroutines"} {
		if !got[n] {
			t.Errorf("sampleNames lacks %s: %v", n, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("sampleNames = %v, want 4 names", got)
	}
}
