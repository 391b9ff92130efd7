// Command healthcode is the one binary of the healthcode pipeline: run the
// pipeline, simulate a province, print a person key, check a policy, explain a
// colour. Flags and environment variables live here; packages take option
// structs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `healthcode: streaming risk scoring for health codes

Usage:
  healthcode run      [flags]            run the pipeline (embedded Kafka when --brokers is empty)
  healthcode broker   --port P --data-dir D [--partitions N] [--http ADDR]
                                         run the embedded Kafka-protocol broker as a process of its own
  healthcode simulate [flags]            write a synthetic province into the upstream topics
  healthcode key      --id-type T --id-number N
                                         print the person key of an identity document
  healthcode policy   check FILE | show NAME | list | publish FILE --brokers B
                                         validate a policy file, print a shipped one, list them,
                                         or put a new one in force in a running pipeline
  healthcode explain  PERSON_KEY [flags] show a person's colour, reasons and evidence from ClickHouse
  healthcode bench    [--quick] [flags]  run the benchmarks; write bench/out/report.md and report.json
  healthcode codes    serve --brokers B --http ADDR --signing-key FILE [flags]
                                         serve signed health codes, QR codes, certificates, the citizen page
  healthcode codes    keygen --out DIR [--rotate] | revoke --kid K | --token-id T
                                         write a signing key and trust list; add to the revocation list
  healthcode dead-letters list [--brokers B] [--topic SOURCE] [--since T]
  healthcode dead-letters replay --offsets N,... | --reason-contains TEXT [--dry-run]
                                         show dead letters (never their raw input); re-send chosen ones
  healthcode verify   [--trust FILE|URL] [--revocations FILE|URL] TOKEN|QR.png|-
                                         check a health code offline; exit 0 when valid, 1 with the reason

Every command takes --log-format text|json (env HEALTHCODE_LOG_FORMAT; default text)
and logs to standard error at HEALTHCODE_LOG_LEVEL (debug, info, warn, error).
Run "healthcode COMMAND --help" for a command's flags.
`

type command func(ctx context.Context, args []string, stdout io.Writer) error

var commands = map[string]command{
	"run":      runCmd,
	"broker":   brokerCmd,
	"simulate": simulateCmd,
	"key":      keyCmd,
	"policy":   policyCmd,
	"explain":  explainCmd,
	"bench":    benchCmd,
	"codes":    codesCmd,
	"verify":   verifyCmd,

	"dead-letters": deadLettersCmd,
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprint(os.Stderr, usage)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "healthcode: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	logger, err := newLogger(os.Stderr, logFormatArg(os.Args[2:]))
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcode %s: %v\n", os.Args[1], err)
		os.Exit(2)
	}
	slog.SetDefault(logger)
	setMemoryLimit(logger)

	// First SIGINT/SIGTERM: drain and flush. Second: exit at once.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		slog.Info("signal received: draining (send again to force exit)")
		cancel()
		<-sigs
		slog.Error("second signal: forcing exit")
		os.Exit(130)
	}()

	err = cmd(ctx, os.Args[2:], os.Stdout)
	cancel()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcode %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("HEALTHCODE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// logFormatArg returns the value of --log-format (or -log-format) in args,
// else HEALTHCODE_LOG_FORMAT. main reads it before the command parses its
// flags, so that the command's own errors are logged in that format; every
// flag set also declares the flag (newFlags), for --help and parsing.
func logFormatArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--log-format", "-log-format"} {
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return os.Getenv("HEALTHCODE_LOG_FORMAT")
}

// newLogger returns the process logger: slog's text or JSON handler on w, at
// HEALTHCODE_LOG_LEVEL.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	o := &slog.HandlerOptions{Level: logLevel()}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// newFlags returns a flag set whose --help prints the command's synopsis. It
// declares --log-format, which main has already applied (logFormatArg).
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("healthcode "+name, flag.ContinueOnError)
	var logFormat string // applied by main already (logFormatArg)
	envString(fs, &logFormat, "log-format", "HEALTHCODE_LOG_FORMAT", "text", "log format on standard error: text or json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: healthcode %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
