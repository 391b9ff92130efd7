package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on a terminal (or plain lines every
// few seconds elsewhere, so CI logs stay readable).
type progress struct {
	mu        sync.Mutex // protects every field below
	w         io.Writer
	start     time.Time
	last      time.Time
	sent      int64
	finalSent int64
	in        int64
	updates   int64
	dead      int64
	lag       int64
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

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

func (p *progress) done() { p.draw(true); fmt.Fprintln(p.w) }

func (p *progress) draw(force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(p.last) < 250*time.Millisecond {
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
	fmt.Fprintf(p.w, "\r%-100s %6s", line, now.Sub(p.start).Round(time.Second))
}
