package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on a terminal (redrawn in place with
// \r), or writes plain lines every few seconds elsewhere, so CI logs stay
// readable.
type progress struct {
	mu        sync.Mutex // protects every field below
	w         io.Writer
	tty       bool // w is a terminal
	start     time.Time
	last      time.Time
	sent      int64
	finalSent int64
	in        int64
	updates   int64
	dead      int64
	lag       int64
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), start: time.Now()}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// produced records how many upstream messages the simulator has produced.
func (p *progress) produced(n int64) {
	p.mu.Lock()
	p.sent = n
	p.mu.Unlock()
	p.draw(false)
}

// set records the pipeline's counters once the simulator is done.
func (p *progress) set(in, total, updates, dead, lag int64) {
	p.mu.Lock()
	p.in, p.finalSent, p.updates, p.dead, p.lag = in, total, updates, dead, lag
	p.mu.Unlock()
	p.draw(false)
}

func (p *progress) done() {
	p.draw(true)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 250 * time.Millisecond
	if !p.tty {
		every = 5 * time.Second
	}
	if !force && now.Sub(p.last) < every {
		return
	}
	p.last = now
	const width = 30
	var line string
	if p.finalSent == 0 {
		line = fmt.Sprintf("simulating: %d upstream messages produced", p.sent)
	} else {
		frac := float64(p.in) / float64(p.finalSent)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%%  in %d/%d  dead %d  updates %d  lag %d",
			strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, p.in, p.finalSent, p.dead, p.updates, p.lag)
	}
	elapsed := now.Sub(p.start).Round(time.Second)
	if !p.tty {
		fmt.Fprintf(p.w, "%s  %s\n", line, elapsed)
		return
	}
	fmt.Fprintf(p.w, "\r%-100s %6s", line, elapsed)
}
