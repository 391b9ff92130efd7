package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
	"healthcode/policies"
	"healthcode/sinks/clickhouse"
)

// partitions of every topic in the harness.
const partitions = 8

// pseudonymKey is the HMAC secret of the harness's generated people. It is
// given to the workers in the environment, never on a command line.
const pseudonymKey = "chaos-harness-key-for-generated-people-only"

// stack is one run's broker process, its workers and its ClickHouse
// database, with the toolkit client the harness measures through.
type stack struct {
	o       *Options
	name    string
	dir     string
	bin     string
	feat    features
	ch      *chServer
	db      string
	port    int // the broker's, kept across its restarts
	broker  *proc
	workers []*proc
	seq     int // workers started
	kc      *kafka.Client
	feed    *feeder
	pl      *pipeline.Pipeline // never run: its topology names the groups and topics
}

// lateness is what the workers' score stage holds events back by, in event
// time (`run --lateness`): more than a step of the input and the disorder
// ingest makes of the first one (more than 6 h measured), so that a person's
// events from topics that ingest read in another order are applied in time
// order in both runs (docs/contract.md, "Clock").
const lateness = "12h"

// features are the optional flags the binary has (other branches add them).
type features struct {
	http, shutdownTimeout bool
}

func detectFeatures(bin string) features {
	out, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	return features{
		http:            strings.Contains(string(out), "-http"),
		shutdownTimeout: strings.Contains(string(out), "-shutdown-timeout"),
	}
}

func newStack(ctx context.Context, o *Options, name, dir string, ch *chServer, feat features) (*stack, error) {
	s := &stack{o: o, name: name, dir: filepath.Join(dir, name), bin: o.Bin, feat: feat, ch: ch, db: "chaos_" + name}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	s.broker = newProc(name+"-broker", s.dir, s.bin, []string{"broker",
		"--port", fmt.Sprint(port), "--data-dir", filepath.Join(s.dir, "kafka"), "--partitions", fmt.Sprint(partitions)}, nil, o.Logger)
	pol, err := policies.Load("domestic")
	if err != nil {
		return nil, err
	}
	s.kc, err = kafka.New(kafka.Config{Brokers: []string{loopback(port)}, Logger: quiet(o.Logger)})
	if err != nil {
		return nil, err
	}
	po := pipeline.Options{Kafka: s.kc.Config(), Partitions: partitions, Policy: pol, Clock: pipeline.ClockEvent, Logger: quiet(o.Logger)}
	po.Decoder.Key = []byte(pseudonymKey)
	if s.pl, err = pipeline.New(po); err != nil {
		return nil, err
	}
	if err := s.startBroker(ctx); err != nil {
		return nil, err
	}
	if err := s.pl.EnsureTopics(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// quiet passes on only errors: the toolkit's retried errors while a broker is
// down are expected here.
func quiet(lg *slog.Logger) *slog.Logger {
	return slog.New(levelHandler{lg.Handler(), slog.LevelError})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// startBroker starts the broker process and waits until it answers.
func (s *stack) startBroker(ctx context.Context) error {
	if err := s.broker.start(); err != nil {
		return err
	}
	return waitFor(s.o.Deadline, s.name+" broker", func() error {
		c, err := net.DialTimeout("tcp", loopback(s.port), time.Second)
		if err != nil {
			return err
		}
		c.Close()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = s.kc.PartitionCount(cctx, s.pl.Options().Topics.PersonEvents)
		if kafka.IsUnknownTopic(err) {
			err = nil // a new broker: EnsureTopics comes next
		}
		return err
	})
}

// startWorker starts one more `healthcode run --brokers` process.
func (s *stack) startWorker() (*proc, error) {
	s.seq++
	args := []string{"run", "--brokers", loopback(s.port), "--clickhouse", s.ch.addr, "--clickhouse-db", s.db,
		"--clock", "event", "--lateness", lateness, "--partitions", fmt.Sprint(partitions)}
	if s.feat.http {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--http", loopback(port))
	}
	if s.feat.shutdownTimeout {
		args = append(args, "--shutdown-timeout", "10s")
	}
	w := newProc(fmt.Sprintf("%s-worker%d", s.name, s.seq), s.dir, s.bin, args,
		[]string{"HEALTHCODE_PSEUDONYM_KEY=" + pseudonymKey, "HEALTHCODE_LOG_LEVEL=info"}, s.o.Logger)
	if err := w.start(); err != nil {
		return nil, err
	}
	s.workers = append(s.workers, w)
	return w, nil
}

// lag is every group's lag on every partition of its input topics, through
// the toolkit's lag query.
func (s *stack) lag(ctx context.Context) (pipeline.Lag, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.pl.Lag(ctx)
}

// clickhouse opens the run's database.
func (s *stack) clickhouse(ctx context.Context) (*clickhouse.Client, error) {
	return clickhouse.Open(ctx, clickhouse.Options{Addr: s.ch.addr, Database: s.db})
}

// crashes lists every exit of the stack's processes nobody asked for.
func (s *stack) crashes() []string {
	out := s.broker.crashed()
	for _, w := range s.workers {
		out = append(out, w.crashed()...)
	}
	return out
}

// close ends every process of the stack.
func (s *stack) close() {
	for _, w := range s.workers {
		w.close()
	}
	s.broker.close()
}
