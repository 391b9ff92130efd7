package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthcode/sinks/clickhouse/chtest"
)

var httpLine = regexp.MustCompile(`^http on (http://\S+):`)

// scrape returns the body of url and its status code (0 if unreachable).
func scrape(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metric sums the samples of /metrics text whose name and labels start with
// prefix (e.g. `healthcode_partitions_owned{stage="score"}`), and counts them.
func metric(body, prefix string) (float64, int) {
	var sum float64
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			sum += v
			n++
		}
	}
	return sum, n
}

// TestWorkers_SplitAndTakeOver runs `healthcode broker` and two `healthcode run
// --brokers ... --http ...` workers (built binaries, the local ClickHouse with
// a fresh database): they split the score partitions, answer their probes
// and pprof, and after one is killed with SIGKILL the other owns every
// partition and drains.
func TestWorkers_SplitAndTakeOver(t *testing.T) {
	const partitions = 4
	ch := chtest.Start(t)
	bin := buildBinary(t)
	_, addr := startBroker(t, bin, t.TempDir())
	env := []string{"HEALTHCODE_PSEUDONYM_KEY=" + devPseudonymKey}
	worker := func(name string) (*process, string) {
		return start(t, name, bin, env, httpLine, "run", "--brokers", addr, "--http", "127.0.0.1:0",
			"--partitions", strconv.Itoa(partitions), "--clock", "event", "--clickhouse", ch.Addr, "--clickhouse-db", ch.Database)
	}
	a, urlA := worker("worker-a")
	_, freshA := scrape(urlA + "/metrics") // before any input
	b, urlB := worker("worker-b")

	// Generous deadlines: how long a rebalance takes is not what this checks.
	waitFor := func(what string, d time.Duration, ok func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			done, state := ok()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s (%s)", what, d, state)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	owned := func(url string) float64 {
		_, body := scrape(url + "/metrics")
		v, _ := metric(body, `healthcode_partitions_owned{stage="score"}`)
		return v
	}
	waitFor("the workers split the score partitions", 60*time.Second, func() (bool, string) {
		oa, ob := owned(urlA), owned(urlB)
		return oa > 0 && ob > 0 && oa+ob == partitions, fmt.Sprintf("a owns %v, b owns %v", oa, ob)
	})
	for _, url := range []string{urlA, urlB} {
		for _, path := range []string{"/healthz", "/debug/pprof/"} {
			if code, body := scrape(url + path); code != 200 {
				t.Errorf("%s%s: %d %s", url, path, code, body)
			}
		}
		waitFor(url+"/readyz", 30*time.Second, func() (bool, string) {
			code, body := scrape(url + "/readyz")
			return code == 200, fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		})
	}

	sim := exec.Command(bin, "simulate", "--brokers", addr, "--people", "1000", "--days", "1", "--partitions", strconv.Itoa(partitions))
	sim.Env = append(sim.Environ(), env...)
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.kill()
	killed := time.Now()
	waitFor("worker a takes over every score partition and drains", 90*time.Second, func() (bool, string) {
		_, body := scrape(urlA + "/metrics")
		own, _ := metric(body, `healthcode_partitions_owned{stage="score"}`)
		lag, series := metric(body, "healthcode_consumer_lag{")
		in, _ := metric(body, `healthcode_messages_total{stage="ingest",topic="src.`)
		return own == partitions && series > 0 && lag == 0 && in > 0,
			fmt.Sprintf("a owns %v, lag %v over %d series, %v upstream messages ingested here", own, lag, series, in)
	})
	t.Logf("worker a owned every score partition and had drained %s after the SIGKILL (reported, not asserted)", time.Since(killed).Round(100*time.Millisecond))
	if code, body := scrape(urlA + "/healthz"); code != 200 {
		t.Errorf("worker a /healthz after the takeover: %d %s", code, body)
	}

	// A code service follows the colour updates the workers wrote: with
	// worker a, its fresh and its drained /metrics are what every metric
	// named in deploy/ is checked against.
	_, drainedA := scrape(urlA + "/metrics")
	freshCodes, drainedCodes := codesProcess(t, bin, addr, env, waitFor)
	t.Run("DeployMetrics", func(t *testing.T) {
		checkDeployMetrics(t, map[string]string{"run": freshA, "codes serve": freshCodes},
			map[string]string{"run": drainedA, "codes serve": drainedCodes})
	})
	a.kill()
}

// codesProcess runs `healthcode codes serve --brokers addr --http ...` with a
// key from `healthcode codes keygen` and returns its /metrics as soon as it
// listens and once it holds the colours of hc.colour-updates and is ready.
func codesProcess(t *testing.T, bin, addr string, env []string, waitFor func(string, time.Duration, func() (bool, string))) (fresh, drained string) {
	t.Helper()
	keys := t.TempDir()
	if out, err := exec.Command(bin, "codes", "keygen", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("codes keygen: %v\n%s", err, out)
	}
	p, url := start(t, "codes", bin, env, httpLine, "codes", "serve", "--brokers", addr, "--http", "127.0.0.1:0",
		"--signing-key", filepath.Join(keys, "signing-key.pem"))
	defer p.kill()
	_, fresh = scrape(url + "/metrics")
	waitFor("codes serve holds the colours and is ready", 60*time.Second, func() (bool, string) {
		code, body := scrape(url + "/readyz")
		_, m := scrape(url + "/metrics")
		persons, _ := metric(m, "healthcode_codes_persons ")
		return code == 200 && persons > 0, fmt.Sprintf("/readyz %d %s, %v persons", code, strings.TrimSpace(body), persons)
	})
	_, drained = scrape(url + "/metrics")
	return fresh, drained
}
