package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lagCollector serves healthcode_consumer_lag from the last poll, so a
// partition no longer in the group's input disappears with the next one.
type lagCollector struct {
	desc *prometheus.Desc

	mu   sync.Mutex // protects last and err
	last Lag
	err  error // the last poll's error; errNotYet before the first
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.last {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(l.Lag), l.Group, l.Topic, strconv.Itoa(l.Partition))
	}
}

func (c *lagCollector) set(l Lag, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	if err == nil {
		c.last = l
	}
}

// PollLag measures the consumer lag of this process's stages every interval
// (default 5s) for healthcode_consumer_lag and readiness, until ctx is done.
// It returns nil then; a failed poll is logged and retried.
func (p *Pipeline) PollLag(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = 5 * time.Second
	}
	c := p.o.Metrics.p().lag
	c.set(nil, errNotYet)
	t := time.NewTicker(every)
	defer t.Stop()
	failed := false
	for {
		pctx, cancel := context.WithTimeout(ctx, max(every, 10*time.Second))
		l, err := p.Lag(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		c.set(l, err)
		if err != nil && !failed {
			p.o.Logger.Warn("consumer lag poll failed; retrying", slog.Any("error", err))
		}
		failed = err != nil
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// Ready reports nil when this process is ready for /readyz: the lag of its
// groups was measured (Kafka answers), no owned partition of score or trace
// is still restoring, and, with the sink stage, the last ClickHouse connection
// or insert succeeded. Otherwise it says what is not ready. Before its groups'
// first assignment a process owns nothing, and so has nothing restoring.
func (p *Pipeline) Ready() error {
	m := p.o.Metrics.p()
	var why []string
	m.lag.mu.Lock()
	if err := m.lag.err; err != nil {
		why = append(why, "kafka: consumer lag: "+err.Error())
	}
	m.lag.mu.Unlock()
	m.mu.Lock()
	for _, stage := range []string{StageScore, StageTrace} {
		if n := m.restoring[stage]; n > 0 && p.o.has(stage) {
			why = append(why, fmt.Sprintf("%s: %d partition(s) restoring", stage, n))
		}
	}
	if p.o.has(StageSink) && m.chState != nil {
		why = append(why, "sink: clickhouse: "+m.chState.Error())
	}
	m.mu.Unlock()
	if len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}
