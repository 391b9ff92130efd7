package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"healthcode/pipeline/broker"
	"healthcode/pipeline/service"
)

// defaultBrokerPort is the embedded broker's loopback port, for `healthcode
// broker` and for `run` without --brokers (docs/operations.md).
const defaultBrokerPort = 19092

// brokerCmd runs the embedded Kafka-protocol broker (kfake) as a process of
// its own, so that several `run --brokers` workers can share it. It prints its
// address on standard output and stops cleanly (its state written to
// --data-dir) on SIGINT or SIGTERM.
func brokerCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("broker", "broker --port P --data-dir D [--partitions N] [--http ADDR] [--sync-writes]")
	port := fs.Int("port", defaultBrokerPort, "loopback TCP port to listen on; 0: one chosen by the kernel")
	dataDir := fs.String("data-dir", "", "directory of the broker's logs, offsets and groups, reloaded on the next start; empty: in memory, lost on exit")
	partitions := fs.Int("partitions", 8, "partitions of topics created without a count (auto-created topics)")
	httpAddr := fs.String("http", "", "HTTP listen address for /metrics, /healthz, /readyz, /debug/pprof/; empty: none")
	syncWrites := fs.Bool("sync-writes", false, "fsync every produced batch and offset commit (survives a machine crash, not only a process crash; slower)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return err
		}
	}
	b, err := broker.Start(broker.Options{Port: *port, DataDir: *dataDir, Partitions: *partitions, SyncWrites: *syncWrites})
	if err != nil {
		return err
	}
	defer b.Close()
	var svc *service.Service
	if *httpAddr != "" {
		svc = service.New(service.Options{Addr: *httpAddr})
		if err := svc.Start(); err != nil {
			return err
		}
		defer svc.Close(context.Background())
	}
	where := "in memory"
	if *dataDir != "" {
		where = "data dir " + *dataDir
	}
	fmt.Fprintf(stdout, "healthcode broker listening on %s (%s)\n", strings.Join(b.Addrs(), ","), where)
	if svc != nil {
		fmt.Fprintf(stdout, "healthcode broker http on %s\n", svc.URL())
	}
	slog.Info("embedded Kafka-protocol broker (kfake) started", slog.Any("addrs", b.Addrs()), slog.String("data_dir", *dataDir),
		slog.Bool("sync_writes", *syncWrites))
	<-ctx.Done()
	slog.Info("broker stopping: writing its state")
	return nil
}
