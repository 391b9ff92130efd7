package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
	"healthcode/sources/sim"
)

// PeerOptions configure the peer section. The zero value is valid.
type PeerOptions struct {
	// HTTP is ClickHouse's HTTP interface, host:port, through which the
	// peer inserts. Default: the host of ClickHouse.Addr, port 8123
	// (deploy/local/clickhouse.sh's CH_HTTP_PORT default).
	HTTP string
	// Module is the directory of the peer's Go module (bench/peer/benthos),
	// built with `go build` into a temporary directory. Default: found
	// beside this package's source file, else bench/peer/benthos or
	// peer/benthos under the working directory.
	Module string
	// Kcat is the kcat executable the peer reads the topics with.
	// Default "kcat".
	Kcat string
	// People is the simulated province, over E2EDays days, seed 1: with the
	// default E2EPeople, the very messages the e2e section reads.
	People int
}

// peerModuleDir is the peer module's directory relative to this package.
const peerModuleDir = "peer/benthos"

func (po *PeerOptions) setDefaults(o *Options) {
	if po.HTTP == "" {
		host, _, err := net.SplitHostPort(o.ClickHouse.Addr)
		if err != nil || host == "" {
			host = "127.0.0.1"
		}
		po.HTTP = net.JoinHostPort(host, "8123")
	}
	if po.Module == "" {
		po.Module = findPeerModule()
	}
	if po.Kcat == "" {
		po.Kcat = "kcat"
	}
	if po.People <= 0 {
		po.People = o.E2EPeople
	}
}

// findPeerModule returns the first directory holding the peer's go.mod: the
// one beside this source file (a binary built from this checkout), then
// bench/peer/benthos (make bench, from the repository root), then
// peer/benthos (go test, in bench/).
func findPeerModule() string {
	var dirs []string
	if _, file, _, ok := runtime.Caller(0); ok {
		dirs = append(dirs, filepath.Join(filepath.Dir(file), peerModuleDir))
	}
	dirs = append(dirs, filepath.Join("bench", peerModuleDir), peerModuleDir)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return filepath.Join("bench", peerModuleDir)
}

// PeerReady reports why the peer section cannot run here, or nil: kcat and
// go on the PATH, the peer module's source, and ClickHouse's HTTP interface
// answering /ping. o's defaults must be filled (SetDefaults).
func PeerReady(ctx context.Context, o *Options) error {
	po := o.Peer
	po.setDefaults(o)
	if _, err := exec.LookPath(po.Kcat); err != nil {
		return fmt.Errorf("peer: kcat not found (Debian: apt-get install kcat): %w", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("peer: the go command builds the peer: %w", err)
	}
	if _, err := os.Stat(filepath.Join(po.Module, "go.mod")); err != nil {
		return fmt.Errorf("peer: module source: %w", err)
	}
	return pingHTTP(ctx, po.HTTP)
}

func pingHTTP(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ping", nil)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("peer: ClickHouse's HTTP interface at %s does not answer (the peer inserts through it; set Options.Peer.HTTP): %w", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("peer: ClickHouse's HTTP interface at %s: /ping answered %s", addr, resp.Status)
	}
	return nil
}

// peerResult is the line the peer prints when the topics are exhausted.
type peerResult struct {
	Messages      int64   `json:"messages"`
	Rows          int64   `json:"rows"`
	DeadLetters   int64   `json:"dead_letters"`
	Seconds       float64 `json:"seconds"`
	EventsPerSec  float64 `json:"events_per_sec"`
	Threads       int     `json:"threads"`
	BatchMessages int     `json:"batch_messages"`
	MaxInFlight   int     `json:"max_in_flight"`
	InsertTimeout string  `json:"insert_timeout"`
}

// Peer measures what a centre without healthcode would build for ingest
// plus sink, beside healthcode's own ingest and sink stages, on the same
// upstream messages in one embedded broker, in the same run: first
// healthcode (`--stages ingest,sink`, event clock) into one database, then
// the peer (bench/peer/benthos: Benthos, kcat, Bloblang, ClickHouse's HTTP
// interface; built here with go build, not imported) into another, each
// timed until it has written everything. Both databases are dropped
// afterwards, once their rows have been compared.
func Peer(ctx context.Context, o *Options, r *Report) (err error) {
	o.SetDefaults()
	po := o.Peer
	po.setDefaults(o)
	log := o.Logger.With(slog.String("section", "peer"))
	if err := PeerReady(ctx, o); err != nil {
		return err
	}
	bin, cleanup, err := buildPeer(ctx, po.Module)
	if err != nil {
		return err
	}
	defer cleanup()

	emb, err := broker.Start(broker.Options{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	defer emb.Close()
	pol, err := policies.Load("domestic")
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	hcDB, peerDB := o.ClickHouse, o.ClickHouse
	hcDB.Database += "_peer_healthcode"
	peerDB.Database += "_peer_benthos"
	for _, db := range []clickhouse.Options{hcDB, peerDB} {
		if err := clickhouse.DropDatabase(ctx, db); err != nil {
			return fmt.Errorf("peer: reset database: %w", err)
		}
	}
	defer func() {
		for _, db := range []clickhouse.Options{hcDB, peerDB} {
			if derr := clickhouse.DropDatabase(context.WithoutCancel(ctx), db); derr != nil && err == nil {
				err = fmt.Errorf("peer: %w", derr)
			}
		}
	}()
	// The peer's table: the events table of migration 0001, in a database
	// of its own.
	pc, err := clickhouse.Open(ctx, peerDB)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	defer pc.Close()

	popts := pipeline.Options{
		Kafka:      kafka.Config{Brokers: emb.Addrs(), Logger: o.Logger},
		Policy:     pol,
		ClickHouse: hcDB,
		Clock:      pipeline.ClockEvent,
		Stages:     []string{pipeline.StageIngest, pipeline.StageGuard, pipeline.StageSink},
		Logger:     o.Logger,
	}
	popts.Decoder.Key = []byte(benchPseudonymKey)
	p, err := pipeline.New(popts)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if err := p.EnsureTopics(ctx); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	n, err := producePeerData(ctx, p, po.People, o.E2EDays)
	if err != nil {
		return err
	}
	log.Info("produced", slog.Int64("messages", n))

	hcTook, err := runIngestSink(ctx, p, n, log)
	if err != nil {
		return err
	}
	hc, err := clickhouse.Open(ctx, hcDB)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	defer hc.Close()
	hcRows, err := hc.Count(ctx, "events", false)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	hcRate := float64(n) / hcTook.Seconds()
	log.Info("healthcode ingest+sink", slog.Duration("took", hcTook), slog.Float64("events_per_sec", hcRate))

	res, wall, err := runPeer(ctx, bin, emb.Addrs(), po, peerDB, log)
	if err != nil {
		return err
	}
	log.Info("peer", slog.Float64("seconds", res.Seconds), slog.Float64("events_per_sec", res.EventsPerSec))
	if res.Messages != n {
		return fmt.Errorf("peer: the peer read %d messages of %d", res.Messages, n)
	}
	peerRows, err := pc.Count(ctx, "events", false)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if peerRows != uint64(res.Rows) {
		why := "rows were lost"
		if peerRows > uint64(res.Rows) {
			why = "an INSERT was written twice: one the peer gave up on (its -insert-timeout) still committed, and its retry wrote the rows again"
		}
		return fmt.Errorf("peer: the peer counted %d rows, ClickHouse holds %d: %s", res.Rows, peerRows, why)
	}
	onlyPeer, onlyHC, err := compareKeys(ctx, pc, peerDB.Database, hcDB.Database)
	if err != nil {
		return err
	}
	peerRate := float64(n) / res.Seconds
	ratio := hcRate / peerRate
	same := "same data: "
	r.Add(
		Figure{Key: "healthcode_ingest_sink_events_per_sec", Value: hcRate, Unit: "events/s",
			Baseline: "peer_benthos_events_per_sec: the Benthos peer on the same messages", BaselineValue: peerRate,
			Goal: ">= 3 × peer",
			Note: fmt.Sprintf("%s%d upstream messages (%d people, %d day(s) simulated, seed 1, produced beforehand into the embedded broker) "+
				"through healthcode's ingest, override guard and sink stages only (pipeline.Options.Stages = ingest, guard, sink: no scoring, no tracing; event clock) "+
				"into ClickHouse database %s, in %.2fs from starting the stages until every consumer group of the three stages had committed all its input "+
				"(WaitDrained, 100 ms polls); %d events rows", same, n, po.People, o.E2EDays, hcDB.Database, hcTook.Seconds(), hcRows)},
		Figure{Key: "peer_benthos_events_per_sec", Value: peerRate, Unit: "events/s",
			Baseline: "healthcode_ingest_sink_events_per_sec: healthcode's ingest and sink stages on the same messages", BaselineValue: hcRate,
			Goal: "healthcode >= 3 × this",
			Note: fmt.Sprintf("Benthos v4.60.0 (bench/peer/benthos, its own module): one kcat subprocess input per upstream topic "+
				"(kcat -C -o beginning -e), %d pipeline threads of Bloblang (decode, validate, HMAC-SHA256 pseudonymise), "+
				"http_client output to ClickHouse's HTTP interface at %s (INSERT INTO %s.events FORMAT JSONEachRow, batches of %d messages "+
				"or 500 ms, %d in flight, each given %s before it is retried); %d messages in %.2fs from starting the stream until it ended with every batch written "+
				"(%.2fs for the whole process, with its start); %d rows, %d dead letters",
				res.Threads, po.HTTP, peerDB.Database, res.BatchMessages, res.MaxInFlight, res.InsertTimeout, n, res.Seconds, wall.Seconds(), res.Rows, res.DeadLetters)},
		Figure{Key: "peer_benthos_ratio", Value: ratio, Unit: "× peer", Baseline: "parity with the peer", BaselineValue: 1,
			Goal: ">= 3", Note: "healthcode_ingest_sink_events_per_sec / peer_benthos_events_per_sec, both measured in this run on the same messages"},
		Figure{Key: "peer_benthos_rows", Value: float64(peerRows), Unit: "rows",
			Baseline: "healthcode's events rows from the same messages", BaselineValue: float64(hcRows),
			Note: fmt.Sprintf("rows whose (person_key, event_id, kind) the other database lacks: %d only in the peer's, %d only in healthcode's "+
				"(0 and 0: the same validation outcome and the same person keys)", onlyPeer, onlyHC)},
	)
	// The whole pipeline beside the peer, when e2e ran in this run on the
	// same messages.
	if e2e, m := r.Value("e2e_events_per_sec"), r.Value("e2e_upstream_messages"); m == float64(n) && e2e > 0 {
		r.Add(Figure{Key: "peer_benthos_ratio_full_pipeline", Value: e2e / peerRate, Unit: "× peer",
			Baseline: "parity with the peer", BaselineValue: 1, Goal: ">= 3",
			Note: "e2e_events_per_sec (healthcode's whole pipeline: ingest, scoring, tracing, sink) / peer_benthos_events_per_sec, " +
				"on the same simulated messages in this run"})
	}
	return nil
}

// buildPeer builds the peer module into a temporary directory; cleanup
// removes it.
func buildPeer(ctx context.Context, module string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "hcbench-peer-")
	if err != nil {
		return "", nil, fmt.Errorf("peer: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "healthcode-bench-peer")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = module
	// The peer's module is its own: no workspace file of the caller applies.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("peer: go build in %s: %w\n%s", module, err, out)
	}
	return bin, cleanup, nil
}

// producePeerData simulates people over days (seed 1, as e2e) into the
// pipeline's upstream topics and returns the number of messages.
func producePeerData(ctx context.Context, p *pipeline.Pipeline, people, days int) (int64, error) {
	prod := pipeline.NewUpstreamProducer(p.Kafka(), p.Options().Topics.Sources)
	_, err := sim.Run(ctx, sim.Config{People: people, Days: days, Seed: 1, Policy: p.Options().Policy},
		func(m sim.Message) error { return prod.Add(ctx, m.Stream, m.Key, m.Value) })
	if cerr := prod.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("peer: simulate: %w", err)
	}
	return prod.Sent(), nil
}

// runIngestSink runs p (ingest and sink) until it has drained, want
// upstream messages in, and stops it. The time ends at the first of the two
// consecutive zero-lag polls WaitDrained needs, as in e2e.
func runIngestSink(ctx context.Context, p *pipeline.Pipeline, want int64, log *slog.Logger) (time.Duration, error) {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(runCtx) }()
	var firstZero time.Time
	drained := make(chan error, 1)
	go func() {
		for p.Metrics().UpstreamIn.Load() < want {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-runCtx.Done():
				drained <- runCtx.Err()
				return
			}
		}
		drained <- p.WaitDrained(runCtx, 100*time.Millisecond, func(l pipeline.Lag) {
			log.Debug("lag", slog.Int64("total", l.Total()))
			switch {
			case l.Total() != 0:
				firstZero = time.Time{}
			case firstZero.IsZero():
				firstZero = time.Now()
			}
		})
	}()
	select {
	case err := <-drained:
		if err != nil {
			stop()
			<-runErr
			return 0, fmt.Errorf("peer: healthcode: wait drained: %w", err)
		}
	case err := <-runErr:
		stop()
		<-drained
		return 0, fmt.Errorf("peer: healthcode stopped before draining: %w", err)
	}
	took := firstZero.Sub(start)
	stop()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		return 0, fmt.Errorf("peer: healthcode: %w", err)
	}
	return took, nil
}

// runPeer runs the peer binary against brokers and the database of db, and
// returns its result line and the process's wall time. The pseudonym key
// and the ClickHouse password go through the environment.
func runPeer(ctx context.Context, bin string, brokers []string, po PeerOptions, db clickhouse.Options, log *slog.Logger) (peerResult, time.Duration, error) {
	var res peerResult
	dir := filepath.Dir(bin)
	user := db.User
	if user == "" {
		user = clickhouse.DefaultUser
	}
	cmd := exec.CommandContext(ctx, bin,
		"--brokers", strings.Join(brokers, ","),
		"--clickhouse-url", "http://"+po.HTTP,
		"--clickhouse-user", user,
		"--database", db.Database,
		"--dead-letter", filepath.Join(dir, "dead-letter.jsonl"),
		"--kcat", po.Kcat)
	cmd.Env = append(os.Environ(), "HEALTHCODE_PSEUDONYM_KEY="+benchPseudonymKey, "HEALTHCODE_CLICKHOUSE_PASSWORD="+db.Password)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return res, wall, fmt.Errorf("peer: run: %w\n%s", err, tail(stderr.String(), 4000))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		log.Warn("peer stderr", slog.String("tail", tail(s, 2000)))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return res, wall, fmt.Errorf("peer: result line: %w", err)
	}
	if res.Seconds <= 0 {
		return res, wall, fmt.Errorf("peer: result line gives %g seconds", res.Seconds)
	}
	return res, wall, nil
}

// compareKeys counts the rows of each database's events whose (person_key,
// event_id, kind) the other lacks.
func compareKeys(ctx context.Context, c *clickhouse.Client, a, b string) (onlyA, onlyB uint64, err error) {
	q := func(x, y string) (uint64, error) {
		var n uint64
		err := c.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM `%s`.events WHERE (person_key, event_id, kind) NOT IN "+
			"(SELECT person_key, event_id, kind FROM `%s`.events)", x, y)).Scan(&n)
		return n, err
	}
	if onlyA, err = q(a, b); err != nil {
		return 0, 0, fmt.Errorf("peer: compare rows: %w", err)
	}
	if onlyB, err = q(b, a); err != nil {
		return 0, 0, fmt.Errorf("peer: compare rows: %w", err)
	}
	return onlyA, onlyB, nil
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
