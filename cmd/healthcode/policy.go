package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"healthcode/policies"
	"healthcode/scoring"
)

func policyCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("policy", "policy check FILE | policy show NAME | policy list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "check":
		if fs.NArg() != 2 {
			return fmt.Errorf("usage: healthcode policy check FILE")
		}
		b, err := os.ReadFile(fs.Arg(1))
		if err != nil {
			return err
		}
		p, err := scoring.ParsePolicy(b)
		if err != nil {
			return err
		}
		printPolicy(stdout, p)
		fmt.Fprintf(stdout, "ok: %s is valid\n", fs.Arg(1))
		return nil
	case "show":
		if fs.NArg() != 2 {
			return fmt.Errorf("usage: healthcode policy show NAME")
		}
		b, err := policies.Raw(fs.Arg(1))
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
	return fmt.Errorf("unknown policy subcommand %q", fs.Arg(0))
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
}
