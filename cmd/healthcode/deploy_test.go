package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"healthcode/pipeline"
	"healthcode/scoring"
)

// The deploy/ files cannot be started here (no container engine). These tests
// parse every one of them and check what they pass to healthcode against the
// binary's own flags (each command's --help) and docs/operations.md
// "Settings"; the metrics their queries name are checked against live
// processes (deploymetrics_test.go).

const deployDir = "../../deploy"

// invocation is one healthcode process a deploy file starts.
type invocation struct {
	where string            // file and service, for messages
	args  []string          // after the binary's name
	env   map[string]string // HEALTHCODE_* variables; a value from a secret or interpolation is "<ref>"
}

// checkInvocation checks the command, its flags and its variables; it
// returns the command and the flags' values.
func checkInvocation(t *testing.T, bin map[string]map[string]flagHelp, docEnv map[string]bool, inv invocation) (string, map[string]string) {
	t.Helper()
	if len(inv.args) == 0 {
		t.Errorf("%s: no command", inv.where)
		return "", nil
	}
	cmd, rest := inv.args[0], inv.args[1:]
	if cmd == "codes" && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	flags, ok := bin[cmd]
	if !ok {
		t.Errorf("%s: healthcode has no command %q", inv.where, cmd)
		return cmd, nil
	}
	values := map[string]string{}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "-") {
			t.Errorf("%s: unexpected argument %q", inv.where, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		h, known := flags[name]
		if !known {
			t.Errorf("%s: healthcode %s has no flag --%s", inv.where, cmd, name)
		}
		if !hasVal && !(known && h.isBool) {
			if i+1 >= len(rest) {
				t.Errorf("%s: --%s without a value", inv.where, name)
				break
			}
			i++
			val = rest[i]
		}
		values[name] = val
		if name == "pseudonym-key" || strings.Contains(name, "password") && !strings.HasSuffix(name, "-file") {
			t.Errorf("%s: a secret on the command line (--%s): use its variable or a file", inv.where, name)
		}
	}
	for name, v := range inv.env {
		if !docEnv[name] {
			t.Errorf("%s: %s is neither a variable of the binary nor in docs/operations.md Settings", inv.where, name)
		}
		secret := name == "HEALTHCODE_PSEUDONYM_KEY" || strings.HasSuffix(name, "_PASSWORD")
		if secret && v != "<ref>" {
			t.Errorf("%s: %s has a literal value; take it from a secret", inv.where, name)
		}
	}
	return cmd, values
}

// settingsEnvNames returns every variable of the Settings table; the table is
// checked against the binary by TestSettingsTable.
func settingsEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range settingsTable(t) {
		if r.env != "" {
			out[r.env] = true
		}
	}
	return out
}

func readYAML(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// get walks nested maps and lists by keys (string) and indices (int).
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, str(x))
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

func httpPort(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

func TestDeploy_Compose(t *testing.T) {
	bin := binaryFlags(t)
	docEnv := settingsEnvNames(t)
	dir := filepath.Join(deployDir, "compose")
	file := filepath.Join(dir, "compose.yaml")
	doc := readYAML(t, file)[0]
	services, _ := doc["services"].(map[string]any)
	if str(get(services, "kafka", "image")) == "" || !strings.HasPrefix(str(get(services, "kafka", "image")), "apache/kafka:") ||
		!strings.Contains(str(get(services, "kafka", "environment", "KAFKA_PROCESS_ROLES")), "controller") {
		t.Error("compose: want the official apache/kafka image in KRaft mode (KAFKA_PROCESS_ROLES with controller)")
	}
	if !strings.HasPrefix(str(get(services, "clickhouse", "image")), "clickhouse/clickhouse-server:") {
		t.Error("compose: want a clickhouse/clickhouse-server image")
	}
	scraped := prometheusTargets(t, filepath.Join(dir, "prometheus.yml"))
	stages := map[string]bool{}
	var codesServe bool
	for name, svc := range services {
		if !strings.HasPrefix(str(get(svc, "image")), "healthcode") {
			continue
		}
		inv := invocation{where: "compose.yaml service " + name, args: strs(get(svc, "command")), env: map[string]string{}}
		env, _ := get(svc, "environment").(map[string]any)
		for k, v := range env {
			if strings.HasPrefix(k, "HEALTHCODE_") {
				s := str(v)
				if strings.HasPrefix(s, "${") {
					s = "<ref>"
				}
				inv.env[k] = s
			}
		}
		cmd, values := checkInvocation(t, bin, docEnv, inv)
		if cmd == "run" {
			if _, ok := values["stages"]; !ok {
				t.Errorf("%s: runs every stage; want one stage per service", inv.where)
			}
			for _, s := range splitList(values["stages"]) {
				stages[s] = true
			}
		}
		codesServe = codesServe || cmd == "codes serve"
		if addr, ok := values["http"]; ok && !scraped[name+":"+httpPort(addr)] {
			t.Errorf("%s: serves metrics on %s, which prometheus.yml does not scrape (scraped: %v)", inv.where, addr, scraped)
		}
		if (cmd == "run" || cmd == "codes serve") && values["http"] == "" {
			t.Errorf("%s: no --http: Prometheus cannot scrape it", inv.where)
		}
	}
	for _, s := range pipeline.AllStages {
		if !stages[s] {
			t.Errorf("compose: no service runs stage %s", s)
		}
	}
	if !codesServe {
		t.Error("compose: no service runs codes serve")
	}
	// Grafana mounts files that exist, and its datasource is the one the dashboard names.
	for _, v := range strs(get(services, "grafana", "volumes")) {
		src, _, _ := strings.Cut(v, ":")
		if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
			t.Errorf("compose: grafana mounts %s: %v", src, err)
		}
	}
	ds := readYAML(t, filepath.Join(deployDir, "grafana", "provisioning", "datasources", "prometheus.yaml"))[0]
	if uid := str(get(ds, "datasources", 0, "uid")); !slices.Contains(dashboardDatasources(t), uid) {
		t.Errorf("grafana datasource uid %q is not the dashboard's %v", uid, dashboardDatasources(t))
	}
	readYAML(t, filepath.Join(deployDir, "grafana", "provisioning", "dashboards", "healthcode.yaml"))
}

// prometheusTargets returns every host:port prometheus.yml scrapes.
func prometheusTargets(t *testing.T, file string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, job := range asList(get(readYAML(t, file)[0], "scrape_configs")) {
		for _, sc := range asList(get(job, "static_configs")) {
			for _, tg := range strs(get(sc, "targets")) {
				out[tg] = true
			}
		}
		for _, sd := range asList(get(job, "dns_sd_configs")) {
			port, _ := get(sd, "port").(int)
			for _, n := range strs(get(sd, "names")) {
				out[n+":"+itoa(port)] = true
			}
		}
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestDeploy_Kubernetes(t *testing.T) {
	bin := binaryFlags(t)
	docEnv := settingsEnvNames(t)
	dir := filepath.Join(deployDir, "k8s")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	byKind := map[string][]map[string]any{}
	resources := map[string]bool{}
	for _, f := range files {
		for _, d := range readYAML(t, f) {
			byKind[str(d["kind"])] = append(byKind[str(d["kind"])], d)
			if str(d["kind"]) == "Kustomization" {
				for _, r := range strs(d["resources"]) {
					resources[r] = true
				}
			}
		}
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !strings.HasSuffix(b, ".example.yaml") && !resources[b] {
			t.Errorf("k8s: kustomization.yaml does not list %s", b)
		}
	}
	named := func(kind, name string) map[string]any {
		for _, d := range byKind[kind] {
			if str(get(d, "metadata", "name")) == name {
				return d
			}
		}
		return nil
	}
	if len(byKind["Deployment"])+len(byKind["StatefulSet"]) == 0 {
		t.Fatal("k8s: no Deployment")
	}
	stages := map[string]bool{}
	for _, d := range append(byKind["Deployment"], byKind["StatefulSet"]...) {
		name := str(get(d, "metadata", "name"))
		pod := get(d, "spec", "template", "spec")
		c := get(pod, "containers", 0)
		where := "k8s " + name
		inv := invocation{where: where, args: strs(get(c, "args")), env: map[string]string{}}
		for _, e := range asList(get(c, "env")) {
			v := str(get(e, "value"))
			if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
				v = "<ref>"
				if s := named("Secret", str(get(ref, "name"))); get(s, "stringData", str(get(ref, "key"))) == nil && get(s, "data", str(get(ref, "key"))) == nil {
					t.Errorf("%s: %s refers to a missing Secret key", where, str(get(e, "name")))
				}
			}
			inv.env[str(get(e, "name"))] = v
		}
		for _, ef := range asList(get(c, "envFrom")) {
			cm := named("ConfigMap", str(get(ef, "configMapRef", "name")))
			if cm == nil {
				t.Errorf("%s: envFrom a missing ConfigMap", where)
				continue
			}
			data, _ := cm["data"].(map[string]any)
			for k, v := range data {
				inv.env[k] = str(v)
			}
		}
		cmd, values := checkInvocation(t, bin, docEnv, inv)
		for _, s := range splitList(values["stages"]) {
			stages[s] = true
		}
		// Probes on the --http port.
		port := httpPort(values["http"])
		var portName string
		for _, p := range asList(get(c, "ports")) {
			if itoa(get(p, "containerPort").(int)) == port {
				portName = str(get(p, "name"))
			}
		}
		if port == "" || portName == "" {
			t.Errorf("%s: no container port for --http %q", where, values["http"])
		}
		for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
			if str(get(c, probe, "httpGet", "path")) != want || str(get(c, probe, "httpGet", "port")) != portName {
				t.Errorf("%s: %s: want GET %s on port %s", where, probe, want, portName)
			}
		}
		if get(c, "resources", "requests", "cpu") == nil || get(c, "resources", "requests", "memory") == nil {
			t.Errorf("%s: no cpu and memory requests", where)
		}
		// Every file it is given lies in a mounted ConfigMap or Secret that holds it.
		mounts := map[string]string{} // mount path -> "Kind/name[/subPath]"
		vols := map[string]any{}
		for _, v := range asList(get(pod, "volumes")) {
			vols[str(get(v, "name"))] = v
		}
		for _, m := range asList(get(c, "volumeMounts")) {
			mounts[str(get(m, "mountPath"))] = str(get(m, "name")) + "\x00" + str(get(m, "subPath"))
		}
		fileOf := func(setting, p string) {
			for mp, ref := range mounts {
				vname, sub, _ := strings.Cut(ref, "\x00")
				v := vols[vname]
				var src map[string]any
				if n := str(get(v, "configMap", "name")); n != "" {
					src = named("ConfigMap", n)
				} else if n := str(get(v, "secret", "secretName")); n != "" {
					src = named("Secret", n)
				}
				key := ""
				switch {
				case sub != "" && p == mp:
					key = sub
				case sub == "" && path.Dir(p) == mp:
					key = path.Base(p)
				default:
					continue
				}
				if src == nil || get(src, "data", key) == nil && get(src, "stringData", key) == nil {
					t.Errorf("%s: %s %s: volume %s has no key %s", where, setting, p, vname, key)
				}
				if setting == "--policy" {
					if _, err := scoring.ParsePolicy([]byte(str(get(src, "data", key)))); err != nil {
						t.Errorf("%s: the policy in ConfigMap %v: %v", where, get(src, "metadata", "name"), err)
					}
				}
				return
			}
			t.Errorf("%s: %s %s is on no mounted volume", where, setting, p)
		}
		for _, f := range []string{"policy", "signing-key", "revocations"} {
			if p := values[f]; strings.HasPrefix(p, "/") {
				fileOf("--"+f, p)
			}
		}
		if cmd == "run" && !strings.HasPrefix(values["policy"], "/etc/healthcode/") {
			t.Errorf("%s: want --policy from the mounted ConfigMap, got %q", where, values["policy"])
		}
		for k, v := range inv.env {
			if strings.HasSuffix(k, "_FILE") || strings.HasSuffix(k, "_TLS_CA") {
				fileOf(k, v)
			}
		}
		// A Service on the metrics port selects these pods.
		labels, _ := get(d, "spec", "template", "metadata", "labels").(map[string]any)
		var svc bool
		for _, s := range byKind["Service"] {
			sel, _ := get(s, "spec", "selector").(map[string]any)
			match := len(sel) > 0
			for k, v := range sel {
				match = match && labels[k] == v
			}
			for _, p := range asList(get(s, "spec", "ports")) {
				svc = svc || match && itoa(get(p, "port").(int)) == port
			}
		}
		if !svc {
			t.Errorf("%s: no Service on port %s selects its pods", where, port)
		}
	}
	for _, s := range pipeline.AllStages {
		if !stages[s] {
			t.Errorf("k8s: no Deployment runs stage %s", s)
		}
	}
}

var (
	promStringRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promBracesRE = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGroupRE  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdentRE  = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the metric names a PromQL expression selects: its
// identifiers less function calls, keywords, label matchers, groupings and
// ranges.
func metricNames(expr string) []string {
	s := promStringRE.ReplaceAllString(expr, `""`)
	s = promBracesRE.ReplaceAllString(s, " ")
	s = promGroupRE.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdentRE.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // a number's exponent or unit
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " "), "(") {
			continue // a function or aggregation
		}
		switch id {
		case "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right":
			continue
		}
		out = append(out, id)
	}
	return out
}

func dashboard(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "healthcode.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("healthcode.json: %v", err)
	}
	return d
}

// walk calls fn for every value under key in v, at any depth.
func walk(v any, key string, fn func(any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == key {
				fn(x)
			}
			walk(x, key, fn)
		}
	case []any:
		for _, x := range v {
			walk(x, key, fn)
		}
	}
}

func dashboardDatasources(t *testing.T) []string {
	var uids []string
	walk(dashboard(t), "datasource", func(v any) {
		if u := str(get(v, "uid")); u != "" && !slices.Contains(uids, u) {
			uids = append(uids, u)
		}
	})
	return uids
}

// TestDashboard_Queries checks the shape of the dashboard's queries and that
// it shows what issue 8 asks. That every metric they name is exported is
// checked against live processes: checkDeployMetrics, from
// TestWorkers_SplitAndTakeOver.
func TestDashboard_Queries(t *testing.T) {
	used := map[string]bool{}
	var exprs int
	walk(dashboard(t), "expr", func(v any) {
		expr := str(v)
		exprs++
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("query %q names no metric", expr)
		}
		for _, n := range names {
			used[n] = true
		}
		if strings.Contains(expr, "_bucket") && !strings.Contains(expr, "histogram_quantile(") {
			t.Errorf("query %q reads buckets without histogram_quantile", expr)
		}
	})
	if exprs == 0 {
		t.Fatal("the dashboard has no queries")
	}
	// What the issue asks the dashboard to show.
	for _, n := range []string{"healthcode_messages_total", "healthcode_consumer_lag", "healthcode_dead_letters_total",
		"healthcode_update_latency_seconds_bucket", "healthcode_colour_updates_total", "healthcode_clickhouse_rows_total",
		"healthcode_clickhouse_errors_total"} {
		if !used[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.99, sum by (le, stage) (rate(healthcode_batch_seconds_bucket{stage="score",x=~"a|b"}[$__rate_interval]))) / on(instance) group_left go_goroutines and 1e3 * up offset 5m`)
	want := []string{"healthcode_batch_seconds_bucket", "go_goroutines", "up"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}
