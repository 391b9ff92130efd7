package main

import (
	"context"
	"fmt"
	"io"

	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"healthcode/pipeline"
	"healthcode/pipeline/kafka"
)

const deadLettersSynopsis = `dead-letters list [--brokers B] [--source-topic SOURCE] [--since T]
       healthcode dead-letters replay --offsets N,N,... | --reason-contains TEXT [--dry-run] [--brokers B]

list shows each dead letter's offset, time, source topic, partition and offset,
table and reason; never its key or value, which hold raw upstream input.
replay re-sends the chosen ones, key and value as received, to the topic and
partition they came from (after an upstream fix), and says which.`

// deadLettersCmd lists and replays the dead-letter topic.
func deadLettersCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("dead-letters", deadLettersSynopsis)
	kf := addKafkaFlags(fs, "required")
	tf := addTopicFlags(fs)
	sourceTopic := fs.String("source-topic", "", "only dead letters from this source topic")
	since := fs.String("since", "", "only dead letters written since T: an RFC 3339 time, or a duration back from now (24h)")
	offsets := fs.String("offsets", "", "replay: the dead letters at these offsets of the dead-letter topic, comma-separated")
	reason := fs.String("reason-contains", "", "replay: the dead letters whose reason contains this text")
	dryRun := fs.Bool("dry-run", false, "replay: say what would be sent, send nothing")
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return fs.Parse(args[:1]) // prints the flags; flag.ErrHelp
		}
		return fmt.Errorf("usage: healthcode %s", deadLettersSynopsis)
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := kf.config()
	if err != nil {
		return err
	}
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("--brokers (or HEALTHCODE_BROKERS) is required")
	}
	topics, err := tf.topics()
	if err != nil {
		return err
	}
	deadTopic := topics.DeadLetter
	f := pipeline.DeadLetterFilter{Topic: *sourceTopic, ReasonContains: *reason}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return err
		}
		f.Since = t
	}
	if *offsets != "" {
		f.Offsets = map[int64]bool{}
		for _, s := range splitList(*offsets) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("--offsets: %q is not an offset", s)
			}
			f.Offsets[n] = true
		}
	}
	kc, err := kafka.New(cfg)
	if err != nil {
		return err
	}
	if sub == "list" {
		if *offsets != "" || *reason != "" || *dryRun {
			return fmt.Errorf("--offsets, --reason-contains and --dry-run are for replay")
		}
		return listDeadLetters(ctx, kc, deadTopic, f, stdout)
	}
	if f.Offsets == nil && f.ReasonContains == "" {
		return fmt.Errorf("replay needs --offsets or --reason-contains: choose what to re-send")
	}
	rep, err := pipeline.ReplayDeadLetters(ctx, kc, deadTopic, f, *dryRun)
	if err != nil {
		return err
	}
	verb := "replayed"
	if *dryRun {
		verb = "dry run: would replay"
	}
	fmt.Fprintf(stdout, "%s %d dead letters to their source topics; offsets: %s\n", verb, len(rep.Replayed), offsetList(rep.Replayed))
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(stdout, "skipped %d without a source topic and partition; offsets: %s\n", len(rep.Skipped), offsetList(rep.Skipped))
	}
	return nil
}

func listDeadLetters(ctx context.Context, kc *kafka.Client, topic string, f pipeline.DeadLetterFilter, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFSET\tTIME\tSOURCE TOPIC\tPARTITION\tSOURCE OFFSET\tTABLE\tREASON")
	n := 0
	err := pipeline.ListDeadLetters(ctx, kc, topic, f, func(d pipeline.DeadLetter, _ *kafka.Message) error {
		n++
		table := d.Table
		if table == "" {
			table = "-"
		}
		// The reason is one sentence that never quotes an identifier; tabs
		// and newlines in it would break the columns.
		reason := strings.Join(strings.Fields(d.Reason), " ")
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Offset, d.Time.UTC().Format(time.RFC3339), d.Topic, d.Partition, d.SourceOffset, table, reason)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d dead letters\n", n)
	return err
}

// parseSince parses an RFC 3339 time, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time or a duration such as 24h", s)
	}
	return now.Add(-d), nil
}

func offsetList(ds []pipeline.DeadLetter) string {
	if len(ds) == 0 {
		return "none"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.FormatInt(d.Offset, 10)
	}
	return strings.Join(parts, ", ")
}
