package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/scoring"
)

func policyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("policy", "policy check FILE | policy show NAME | policy list | policy publish FILE --brokers B")
	kf := addKafkaFlags(fs, "for publish")
	tf := addTopicFlags(fs)
	// Flags may follow the subcommand and its argument.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	switch arg(0) {
	case "check":
		if len(pos) != 2 {
			return fmt.Errorf("usage: healthcode policy check FILE")
		}
		b, err := os.ReadFile(arg(1))
		if err != nil {
			return err
		}
		p, err := scoring.ParsePolicy(b)
		if err != nil {
			return err
		}
		printPolicy(stdout, p)
		fmt.Fprintf(stdout, "ok: %s is valid\n", arg(1))
		return nil
	case "publish":
		kcfg, err := kf.config()
		if err != nil {
			return err
		}
		topics, err := tf.topics()
		if err != nil {
			return err
		}
		topic := &topics.Policy
		if len(pos) != 2 || len(kcfg.Brokers) == 0 {
			return fmt.Errorf("usage: healthcode policy publish FILE --brokers B")
		}
		b, err := os.ReadFile(arg(1))
		if err != nil {
			return err
		}
		key, value, p, err := wire.EncodePolicy(b) // refuses locally what the pipeline would refuse
		if err != nil {
			return err
		}
		kc, err := kafka.New(kcfg)
		if err != nil {
			return err
		}
		if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: *topic, Partitions: 1, Compacted: true}); err != nil {
			return err
		}
		w := kc.NewWriter(*topic, nil)
		defer w.Close()
		if err := w.WriteMessages(ctx, kafka.Message{Key: key, Value: value}); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		fmt.Fprintf(stdout, "published %s to %s: the scoring stage recomputes every person under it\n", p.Stamp(), *topic)
		return nil
	case "show":
		if len(pos) != 2 {
			return fmt.Errorf("usage: healthcode policy show NAME")
		}
		b, err := policies.Raw(arg(1))
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	case "list":
		for _, n := range policies.Names() {
			p, err := policies.Load(n)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-15s %-32s %s\n", p.Stamp(), strings.Join(p.Colours, "/"), p.Description)
		}
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown policy subcommand %q", arg(0))
}

func printPolicy(w io.Writer, p *scoring.Policy) {
	fmt.Fprintf(w, "%s: colours %s, %d rules\n", p.Stamp(), strings.Join(p.Colours, " < "), len(p.Rules))
	for _, r := range p.Rules {
		timing := ""
		if r.From > 0 {
			timing += " from " + r.From.String()
		}
		if r.For > 0 {
			timing += " for " + r.For.String()
		}
		fmt.Fprintf(w, "  %-20s %-7s on %-17s clears by %s%s\n", r.ID, r.Colour, r.Fact, r.Clear, timing)
	}
	printOverrideRules(w, p)
}

// printOverrideRules summarises the policy's rules for official overrides.
func printOverrideRules(w io.Writer, p *scoring.Policy) {
	o := &p.Overrides
	allow := make([]string, len(p.Colours))
	for i, c := range p.Colours {
		allow[i] = c + " " + string(o.Allow(uint8(i)))
	}
	limits := "no longest until"
	if o.MaxUntil > 0 {
		limits = "until at most " + o.MaxUntil.String()
	}
	if l := o.RateLimit; l != nil {
		limits += fmt.Sprintf(", at most %d per officer in %s", l.Max, l.Window)
	}
	fmt.Fprintf(w, "overrides: %s; %s\n", strings.Join(allow, ", "), limits)
	for _, a := range o.Alerts {
		colour := "any colour"
		if a.Colour != "" {
			colour = a.Colour
		}
		fmt.Fprintf(w, "  alert %-18s more than %d to %s per %s in %s\n", a.ID, a.Over, colour, a.By, a.Window)
	}
}
