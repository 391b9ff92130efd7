// Command healthcode-bench-peer is the benchmark's peer: what a centre
// without healthcode would build for ingest plus sink, as one Benthos stream
// (github.com/redpanda-data/benthos/v4, open core). It reads every upstream
// topic from the beginning to its end with Debian's kcat (one `subprocess`
// input per topic: Benthos's open core has no Kafka input), decodes,
// validates and pseudonymises each message in Bloblang (mapping.blobl), and
// inserts the rows into a ClickHouse table of the events table's shape
// through ClickHouse's HTTP interface (`http_client` output, batched,
// INSERT ... FORMAT JSONEachRow). Rejected messages go to a dead-letter file
// (stream, partition, offset and reason; never the message).
//
// When the topics are exhausted and the last batch is written it prints one
// JSON line to stdout: messages, rows, dead letters, seconds and events/s
// (upstream messages per second, as healthcode's own figures count them).
//
// The pseudonym key comes from the environment (HEALTHCODE_PSEUDONYM_KEY),
// as healthcode's does, never from argv.
//
// This module is healthcode's benchmark's only; healthcode's own module does
// not import it (bench/peer.go builds it with `go build`).
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

//go:embed mapping.blobl
var mapping string

// Environment variables holding the secrets.
const (
	keyEnv      = "HEALTHCODE_PSEUDONYM_KEY"       // the pseudonym key
	passwordEnv = "HEALTHCODE_CLICKHOUSE_PASSWORD" // the ClickHouse user's password
)

// streams are the contract's upstream streams, by the name mapping.blobl
// matches on.
var streams = []string{"flights", "travel", "tests", "checkins", "vaccinations", "declarations", "area-risk", "overrides"}

// options are the command's settings (flags).
type options struct {
	brokers    string        // comma-separated host:port
	topicPref  string        // topic of stream s is topicPref + s
	clickhouse string        // ClickHouse HTTP base URL
	user       string        // ClickHouse user
	database   string        // database of the table
	table      string        // table of the events table's shape
	deadLetter string        // file for rejected messages' reasons
	kcat       string        // kcat executable
	threads    int           // pipeline threads
	batch      int           // messages per INSERT
	linger     time.Duration // how long a batch waits to fill
	inFlight   int           // concurrent INSERTs
	insertWait time.Duration // how long one INSERT may take before it is retried
	timeout    time.Duration // give up after
	cpuProfile string        // file for a CPU profile of the run, "" for none
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	flag.StringVar(&o.topicPref, "topic-prefix", "src.", "topic of each upstream stream: prefix + stream name")
	flag.StringVar(&o.clickhouse, "clickhouse-url", "http://127.0.0.1:8123", "ClickHouse HTTP interface")
	flag.StringVar(&o.user, "clickhouse-user", "default", "ClickHouse user; the password comes from "+passwordEnv)
	flag.StringVar(&o.database, "database", "default", "ClickHouse database of the table")
	flag.StringVar(&o.table, "table", "events", "table of the events table's shape")
	flag.StringVar(&o.deadLetter, "dead-letter", "dead-letter.jsonl", "file receiving one line per rejected message (stream, partition, offset, reason)")
	flag.StringVar(&o.kcat, "kcat", "kcat", "kcat executable")
	flag.IntVar(&o.threads, "threads", runtime.GOMAXPROCS(0), "pipeline processing threads")
	flag.IntVar(&o.batch, "batch", 50000, "messages per ClickHouse INSERT (healthcode's sink batch is 50000 rows)")
	flag.DurationVar(&o.linger, "linger", 500*time.Millisecond, "how long an INSERT batch waits to fill (healthcode's sink linger is 500ms)")
	flag.IntVar(&o.inFlight, "max-in-flight", 2, "concurrent INSERTs")
	flag.DurationVar(&o.insertWait, "insert-timeout", 5*time.Minute, "how long one INSERT may take before the http_client output gives up and retries it; "+
		"an INSERT given up on may still commit, so its retry writes the rows twice (clickhouse-go's read timeout, which healthcode's sink has, is 5m too)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(o, log); err != nil {
		fmt.Fprintln(os.Stderr, "healthcode-bench-peer:", err)
		os.Exit(1)
	}
}

// result is the line printed at the end.
type result struct {
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

func run(o options, log *slog.Logger) error {
	if os.Getenv(keyEnv) == "" {
		return fmt.Errorf("no pseudonym key: set %s", keyEnv)
	}
	if _, err := exec.LookPath(o.kcat); err != nil {
		return fmt.Errorf("kcat: %w (Debian: apt-get install kcat)", err)
	}
	env := service.NewEnvironment()
	c := &counters{}
	if err := c.register(env); err != nil {
		return err
	}
	conf, err := config(o)
	if err != nil {
		return err
	}
	b := env.NewStreamBuilder()
	b.SetLogger(log)
	if err := b.SetYAML(conf); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	stream, err := b.Build()
	if err != nil {
		return fmt.Errorf("build stream: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	err = stream.Run(ctx)
	took := time.Since(start)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("run: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("run: stopped before the topics were exhausted: %w", ctx.Err())
	}
	res := result{Messages: c.messages.Load(), Rows: c.rows.Load(), DeadLetters: c.dead.Load(), Seconds: took.Seconds(),
		Threads: o.threads, BatchMessages: o.batch, MaxInFlight: o.inFlight, InsertTimeout: o.insertWait.String()}
	res.EventsPerSec = float64(res.Messages) / took.Seconds()
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// config writes the stream's configuration. It is JSON, which is YAML.
func config(o options) (string, error) {
	if o.threads < 1 || o.batch < 1 || o.inFlight < 1 {
		return "", fmt.Errorf("threads %d, batch %d, max-in-flight %d: want each at least 1", o.threads, o.batch, o.inFlight)
	}
	if o.insertWait <= 0 {
		return "", fmt.Errorf("insert-timeout %s: want a positive duration", o.insertWait)
	}
	var inputs []any
	for _, s := range streams {
		topic := o.topicPref + s
		inputs = append(inputs, map[string]any{
			"subprocess": map[string]any{
				"name": o.kcat,
				// -e: exit at the end of every partition; -q: no
				// informational output; one line per message.
				"args":       []string{"-C", "-b", o.brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p %o %s\n"},
				"codec":      "lines",
				"max_buffer": 16 << 20, // a manifest of 1000 passengers is well under this
			},
			"processors": []any{map[string]any{
				"mapping": fmt.Sprintf("meta stream = %q\nmeta topic = %q", s, topic),
			}},
		})
	}
	httpOut := map[string]any{
		"url":           "",
		"verb":          "POST",
		"headers":       map[string]any{"Content-Type": "text/plain"},
		"max_in_flight": o.inFlight,
		// Benthos's default is 5s: under load an INSERT outlived it, was
		// retried while the first still committed, and ClickHouse held
		// rows twice (6365 against the 6097 counted).
		"timeout": o.insertWait.String(),
		"batching": map[string]any{
			"count": o.batch, "period": o.linger.String(),
			"processors": []any{map[string]any{"archive": map[string]any{"format": "lines"}}},
		},
	}
	if pw := os.Getenv(passwordEnv); o.user != "default" || pw != "" {
		httpOut["basic_auth"] = map[string]any{"enabled": true, "username": o.user, "password": pw}
	}
	insert := url.Values{"query": {fmt.Sprintf("INSERT INTO %s.%s FORMAT JSONEachRow", o.database, o.table)}}
	httpOut["url"] = strings.TrimRight(o.clickhouse, "/") + "/?" + insert.Encode()
	conf := map[string]any{
		"input":    map[string]any{"broker": map[string]any{"inputs": inputs}},
		"pipeline": map[string]any{"threads": o.threads, "processors": []any{map[string]any{"peer_count": "messages"}, map[string]any{"mapping": mapping}}},
		"output": map[string]any{"switch": map[string]any{"cases": []any{
			map[string]any{
				"check": "errored()",
				"output": map[string]any{
					"file":       map[string]any{"path": o.deadLetter, "codec": "lines"},
					"processors": []any{map[string]any{"peer_count": "dead_letters"}, map[string]any{"mapping": deadLetterMapping}},
				},
			},
			map[string]any{"check": "@rows == 0", "output": map[string]any{"drop": map[string]any{}}},
			map[string]any{"output": map[string]any{
				"http_client": httpOut,
				"processors":  []any{map[string]any{"peer_count": "rows"}},
			}},
		}}},
		"logger": map[string]any{"level": "WARN"},
	}
	b, err := json.Marshal(conf)
	return string(b), err
}

// deadLetterMapping is what the dead-letter file gets of a rejected message:
// where it was and why, never its content (which holds raw identifiers).
const deadLetterMapping = `let line = content().string()
let a = $line.index_of(" ")
let rest = $line.slice($a + 1)
root = {"stream": @stream, "partition": $line.slice(0, $a).number().catch(-1), "offset": $rest.slice(0, $rest.index_of(" ")).number().catch(-1), "reason": error()}`
