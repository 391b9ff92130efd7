package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
)

// scaleKey is the pseudonym key of the scale run's processes: every person
// in it is generated.
const scaleKey = "healthcode-bench-scale-development-key"

// Scale runs a province's day through the pipeline as it is deployed, each
// part a process of its own (o.Binary): `healthcode broker` (its log on disk in a
// temporary directory),
// `healthcode simulate` producing o.ScalePeople people's day into it, then
// one `healthcode run --brokers` process (every stage, event clock) until
// every consumer group has committed all its input. The pipeline process's
// peak RSS (the kernel's VmHWM) is rss_bytes_per_million_people: the
// pipeline alone, without the broker the embedded runs carry.
func Scale(ctx context.Context, o *Options, r *Report) error {
	o.SetDefaults()
	log := o.Logger.With(slog.String("section", "scale"))
	dir, err := os.MkdirTemp("", "hcbench-scale-")
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	defer os.RemoveAll(dir)

	port, err := freeLoopbackPort()
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// The broker keeps its log on disk (the page cache), as Kafka does, not
	// in its heap: the day's topics would not fit in memory beside the pipeline.
	brk, err := startProcess(o.Binary, filepath.Join(dir, "broker.log"), nil, "broker", "--port", strconv.Itoa(port),
		"--data-dir", filepath.Join(dir, "broker"))
	if err != nil {
		return fmt.Errorf("scale: broker: %w", err)
	}
	defer brk.stop()
	if err := waitListening(ctx, addr, 30*time.Second); err != nil {
		return fmt.Errorf("scale: broker: %w (log %s)", err, brk.logTail())
	}

	log.Info("simulating and producing", slog.Int("people", o.ScalePeople))
	start := time.Now()
	simOut, err := runProcess(ctx, o.Binary, []string{"HEALTHCODE_PSEUDONYM_KEY=" + scaleKey},
		"simulate", "--brokers", addr, "--people", strconv.Itoa(o.ScalePeople), "--days", "1", "--seed", "1")
	if err != nil {
		return fmt.Errorf("scale: simulate: %w", err)
	}
	produceTook := time.Since(start)
	n, err := simulatedMessages(simOut)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	log.Info("produced", slog.Int64("messages", n), slog.Duration("took", produceTook))

	db := o.ClickHouse
	db.Database = o.ClickHouse.Database + "_scale"
	if err := clickhouse.DropDatabase(ctx, db); err != nil {
		return fmt.Errorf("scale: reset database: %w", err)
	}
	defer func() {
		if err := clickhouse.DropDatabase(context.WithoutCancel(ctx), db); err != nil {
			log.Warn("scale: drop database", slog.Any("err", err))
		}
	}()
	lagger, err := scalePipeline(addr)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	httpPort, err := freeLoopbackPort()
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	env := []string{"HEALTHCODE_PSEUDONYM_KEY=" + scaleKey, "HEALTHCODE_LOG_LEVEL=warn"}
	if db.Password != "" {
		env = append(env, "HEALTHCODE_CLICKHOUSE_PASSWORD="+db.Password)
	}
	start = time.Now()
	run, err := startProcess(o.Binary, filepath.Join(dir, "run.log"), env, "run", "--brokers", addr, "--clock", "event",
		"--clickhouse", db.Addr, "--clickhouse-user", db.User, "--clickhouse-db", db.Database, "--http", metricsAddr)
	if err != nil {
		return fmt.Errorf("scale: run: %w", err)
	}
	defer run.stop()
	drainCtx, cancel := context.WithTimeout(ctx, 2*time.Hour)
	defer cancel()
	exited := make(chan error, 1)
	go func() { exited <- run.wait() }()
	drained := make(chan error, 1)
	go func() {
		drained <- lagger.WaitDrained(drainCtx, time.Second, func(l pipeline.Lag) {
			log.Debug("lag", slog.Int64("total", l.Total()))
		})
	}()
	select {
	case err := <-drained:
		if err != nil {
			return fmt.Errorf("scale: wait for the pipeline to drain: %w (log %s)", err, run.logTail())
		}
	case err := <-exited:
		return fmt.Errorf("scale: the pipeline process exited before it drained: %v (log %s)", err, run.logTail())
	}
	took := time.Since(start)
	heap, _ := scrapeGauge(ctx, metricsAddr, "go_memstats_heap_inuse_bytes")
	heapPath := filepath.Join(o.Out, "scale.heap.pprof")
	if err := fetchHeapProfile(ctx, metricsAddr, heapPath); err != nil {
		r.Note("scale: heap profile of the pipeline process: %v", err)
	} else if top, total, err := heapTop(heapPath, 25); err != nil {
		r.Note("scale: heap profile of the pipeline process: %v", err)
	} else {
		r.Note("scale: live heap of the pipeline process once drained (%s after a GC, %s; `go tool pprof -top -inuse_space %s`), top 25 functions by flat in-use bytes:\n\n```\n%s```\n",
			mib(total), heapPath, heapPath, top)
	}
	peak, err := procStatusBytes(run.pid(), "VmHWM")
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	brokerPeak, err := procStatusBytes(brk.pid(), "VmHWM")
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	millions := float64(o.ScalePeople) / 1e6
	rate := float64(n) / took.Seconds()
	log.Info("drained", slog.Duration("took", took), slog.Float64("events_per_sec", rate), slog.String("peak_rss", mib(peak)))
	r.Add(
		Figure{Key: "scale_events_per_sec", Value: rate, Unit: "events/s",
			Baseline: "producing the same day (healthcode simulate, its own process)", BaselineValue: float64(n) / produceTook.Seconds(),
			Note: fmt.Sprintf("%d upstream messages of %d simulated people's day (seed 1) through one `healthcode run --brokers` process "+
				"(ingest, guard, score, trace, sink; event clock; 8 partitions) on a `healthcode broker` process (log on disk), ClickHouse database %s; "+
				"from starting the process (its joins and migrations included) until every consumer group had committed all its input",
				n, o.ScalePeople, db.Database)},
		Figure{Key: "scale_day_seconds", Value: took.Seconds(), Unit: "s", Baseline: "the same day in real time", BaselineValue: 86400,
			Goal: "<= 86400", Note: fmt.Sprintf("the scale run's time for one simulated day of %d people", o.ScalePeople)},
		Figure{Key: "rss_bytes_per_million_people", Value: float64(peak) / millions, Unit: "bytes",
			Baseline: "the same process's Go heap in use once drained, per million people (go_memstats_heap_inuse_bytes)", BaselineValue: float64(heap) / millions,
			Goal: "<= 400000000",
			Note: fmt.Sprintf("peak RSS (VmHWM) of the pipeline process alone over the scale run, %s, / %.3g million people; the broker process peaked at %s",
				mib(peak), millions, mib(brokerPeak))},
		Figure{Key: "scale_pipeline_peak_rss_bytes", Value: float64(peak), Unit: "bytes",
			Baseline: "the broker process's peak RSS (VmHWM)", BaselineValue: float64(brokerPeak)},
	)
	return nil
}

// scalePipeline is a handle on the scale run's topics and groups (the
// defaults `healthcode run` uses), for its lag.
func scalePipeline(addr string) (*pipeline.Pipeline, error) {
	pol, err := policies.Load("domestic")
	if err != nil {
		return nil, err
	}
	o := pipeline.Options{Kafka: kafka.Config{Brokers: []string{addr}}, Policy: pol, Clock: pipeline.ClockEvent}
	o.Decoder.Key = []byte(scaleKey) // only validated here: this handle reads lag, never input
	return pipeline.New(o)
}

var simulatedLine = regexp.MustCompile(`simulated \d+ people over \d+ days?: (\d+) messages`)

// simulatedMessages reads the message count from `healthcode simulate`'s summary.
func simulatedMessages(out string) (int64, error) {
	m := simulatedLine.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("simulate printed no message count: %q", tail(out, 300))
	}
	return strconv.ParseInt(m[1], 10, 64)
}

// process is a child process whose output goes to a log file.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProcess(bin, logPath string, env []string, args ...string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s %s: %w", bin, args[0], err)
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int    { return p.cmd.Process.Pid }
func (p *process) wait() error { <-p.done; return p.err }

// stop sends SIGTERM and waits; a process still running after 30 s is killed.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	return tail(string(b), 600)
}

// runProcess runs bin to completion and returns its standard output.
func runProcess(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, tail(stderr.String(), 600))
	}
	return string(out), nil
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procStatusBytes reads a kB field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusBytes(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", field, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read %s: %q: %w", field, sc.Text(), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("read %s: no such line in /proc/%d/status", field, pid)
}

// scrapeGauge reads one unlabelled sample from a Prometheus text endpoint.
func scrapeGauge(ctx context.Context, addr, name string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	return 0, errors.New(name + " not found")
}
