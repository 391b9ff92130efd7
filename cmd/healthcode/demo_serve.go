package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"healthcode/pipeline"
	"healthcode/pipeline/service"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/codes"
	"healthcode/sinks/codes/token"
)

// serveDemo mounts a code service (sinks/codes) on the demo's listener, signing
// with a key generated in memory for this run, waits until it has read the
// colours, and prints URLs to try. It then serves until ctx is done (Ctrl-C),
// or returns at once when standard input is not a terminal (CI, scripts).
func serveDemo(ctx context.Context, g *errgroup.Group, svc *service.Service, o pipeline.Options, secret []byte, stdout io.Writer) error {
	k, err := token.GenerateKey()
	if err != nil {
		return err
	}
	signer, err := token.NewSigner(token.SignerOptions{Keys: []*token.Key{k}, Issuer: "CN-DEMO", TTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	srv, err := codes.New(codes.Options{Kafka: o.Kafka, ColourTopic: o.Topics.ColourUpdates, EventsTopic: o.Topics.PersonEvents,
		Signer: signer, Policy: o.Policy, PseudonymKey: secret})
	if err != nil {
		return err
	}
	srv.Register(svc)
	g.Go(func() error { return srv.Run(ctx) })
	for srv.Ready() != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	key, colour, err := demoPerson(ctx, o.ClickHouse)
	if err != nil {
		return err
	}
	u := svc.URL()
	fmt.Fprintf(stdout, `
Serving at %[1]s. The code service signs with a key generated in memory for this demo
(kid %[4]s): its tokens verify only against %[1]s/v1/trust-list of this run.
  %[1]s/codes/%[2]s           the citizen page of a %[3]s person
  %[1]s/v1/codes/%[2]s        their signed health code (JSON)
  %[1]s/v1/codes/%[2]s/qr.png
  %[1]s/map                                                 the province's exposures on an H3 map
  %[1]s/metrics   %[1]s/readyz   %[1]s/healthz   %[1]s/debug/pprof/
`, u, key, colour, signer.KeyID())
	if !stdinIsTerminal() {
		fmt.Fprintln(stdout, "(standard input is not a terminal: not waiting)")
		return nil
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	slog.Info("demo serving until interrupted", slog.String("url", u))
	<-ctx.Done()
	return ctx.Err()
}

// demoPerson returns the key of a red person of the demo, else of anyone, and
// their colour.
func demoPerson(ctx context.Context, o clickhouse.Options) (key, colour string, err error) {
	ch, err := clickhouse.Open(ctx, o)
	if err != nil {
		return "", "", err
	}
	defer ch.Close()
	row := ch.Conn().QueryRow(ctx, `SELECT person_key, c FROM (SELECT person_key, argMax(colour, version) AS c FROM colours_current GROUP BY person_key)
ORDER BY c = 'red' DESC, person_key LIMIT 1`)
	if err := row.Scan(&key, &colour); err != nil {
		return "", "", fmt.Errorf("pick a person to show: %w", err)
	}
	return key, colour, nil
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
