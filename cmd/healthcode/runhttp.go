package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline"
	"healthcode/pipeline/service"
)

// lagPoll is how often `run --http` measures its groups' consumer lag for
// healthcode_consumer_lag and /readyz.
const lagPoll = 5 * time.Second

// observing is `run --http`: the pipeline's metrics and probes on one
// listener. Without --http, svc is nil and every method does nothing more
// than run the pipeline.
type observing struct {
	svc     *service.Service
	p       *pipeline.Pipeline
	running atomic.Bool // the stages run: /healthz
	maps    *lazyMap    // /map, when this process runs the sink stage
}

// startObserving starts the listener at addr ("" for none) with the
// pipeline's metrics, /readyz judged by Pipeline.Ready and /healthz by the
// stages running, and prints its URL on stdout.
func startObserving(addr string, p *pipeline.Pipeline, stdout io.Writer) (*observing, error) {
	obs := &observing{p: p}
	if addr == "" {
		return obs, nil
	}
	svc := service.New(service.Options{Addr: addr})
	if err := p.Metrics().Register(svc.Registry()); err != nil {
		return nil, err
	}
	// healthcode_override_alerts_total, its reasons created at zero by New.
	for _, c := range p.Options().OverrideMetrics.Collectors() {
		if err := svc.Registry().Register(c); err != nil {
			return nil, fmt.Errorf("register override metrics: %w", err)
		}
	}
	svc.AddCheck("pipeline", p.Ready)
	svc.AddLiveness("pipeline", func() error {
		if !obs.running.Load() {
			return errors.New("the stages are not running")
		}
		return nil
	})
	paths := "/metrics /healthz /readyz /debug/pprof/"
	if slices.Contains(p.Options().Stages, pipeline.StageSink) {
		obs.maps = &lazyMap{o: p.Options().ClickHouse}
		svc.Mux().Handle("GET /map", obs.maps)
		paths += " /map"
	}
	if err := svc.Start(); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "http on %s: %s\n", svc.URL(), paths)
	obs.svc = svc
	return obs, nil
}

// run runs the pipeline's stages, marked live while they run.
func (obs *observing) run(ctx context.Context, run func(context.Context) error) error {
	obs.running.Store(true)
	defer obs.running.Store(false)
	return run(ctx)
}

// pollLag polls the consumer lag under g until ctx is done, with a listener.
func (obs *observing) pollLag(g *errgroup.Group, ctx context.Context) {
	if obs.svc != nil {
		g.Go(func() error { return obs.p.PollLag(ctx, lagPoll) })
	}
}

func (obs *observing) close() {
	if obs.svc != nil {
		obs.svc.Close(context.Background())
	}
	if obs.maps != nil {
		obs.maps.close()
	}
}
