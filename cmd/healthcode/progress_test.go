package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgress_PlainLinesOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.produced(10)
	p.set(5, 10, 3, 1, 2)
	p.done()
	out := b.String()
	if strings.Contains(out, "\r") {
		t.Errorf("progress off a terminal wrote a carriage return: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "simulating: 10 upstream") || !strings.Contains(lines[len(lines)-1], "in 5/10") {
		t.Errorf("progress lines %q: want the first draw and the final state, one per line", lines)
	}
}
