// Package service owns the one HTTP listener every long-running healthcode
// command serves: /metrics (a Prometheus registry with the Go runtime and
// process collectors), /healthz (200 while every registered liveness check
// passes, 503 with the reasons otherwise), /readyz (200 once every registered
// readiness check passes, 503 with the reasons otherwise), /debug/pprof/, and the command's own handlers on the same mux.
// It knows nothing of Kafka, scoring or any one command; it must not import
// them.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure a Service. The zero value is valid.
type Options struct {
	Addr string // listen address; default "127.0.0.1:0" (a free loopback port)
	// ShutdownTimeout bounds how long Close waits for requests in flight;
	// default 5s.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger // default slog.Default()
}

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Check is a readiness check: nil when ready, otherwise why not.
type Check func() error

// Service is the listener, its registry and its mux. Register handlers and
// checks before or after Start; both are safe for concurrent use.
type Service struct {
	o        Options
	registry *prometheus.Registry
	mux      *http.ServeMux
	srv      *http.Server
	ln       net.Listener
	done     chan error

	mu     sync.Mutex // protects checks and live
	checks map[string]Check
	live   map[string]Check
}

// New returns a service with its registry and the standard endpoints
// registered; it does not listen yet.
func New(o Options) *Service {
	o.setDefaults()
	s := &Service{o: o, registry: prometheus.NewRegistry(), mux: http.NewServeMux(), checks: map[string]Check{}, live: map[string]Check{}}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { probe(w, "ok", "unhealthy", s.Healthy()) })
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { probe(w, "ready", "not ready", s.Ready()) })
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return s
}

// Registry is where the command registers its metrics.
func (s *Service) Registry() *prometheus.Registry { return s.registry }

// Mux is where the command registers its handlers (Go 1.22 patterns).
func (s *Service) Mux() *http.ServeMux { return s.mux }

// AddCheck registers a readiness check under name (replacing one of the same name).
func (s *Service) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// AddLiveness registers a liveness check for /healthz under name (replacing
// one of the same name): it fails only when the process no longer works and
// should be restarted.
func (s *Service) AddLiveness(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[name] = c
}

// Ready returns nil when every readiness check passes, or an error naming
// each that fails.
func (s *Service) Ready() error { return s.run(s.checks) }

// Healthy returns nil when every liveness check passes, or an error naming
// each that fails.
func (s *Service) Healthy() error { return s.run(s.live) }

func (s *Service) run(set map[string]Check) error {
	s.mu.Lock()
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	checks := make([]Check, len(names))
	sort.Strings(names)
	for i, n := range names {
		checks[i] = set[n]
	}
	s.mu.Unlock()
	var fails []string
	for i, c := range checks {
		if err := c(); err != nil {
			fails = append(fails, names[i]+": "+err.Error())
		}
	}
	if len(fails) > 0 {
		return errors.New(strings.Join(fails, "; "))
	}
	return nil
}

// probe answers a probe: 200 and ok, or 503 and bad with the reasons.
func probe(w http.ResponseWriter, ok, bad string, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, bad+":", err)
		return
	}
	fmt.Fprintln(w, ok)
}

// Start listens on Options.Addr and serves until Close. Its error is one of
// listening; serving errors are returned by Close.
func (s *Service) Start() error {
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("service: listen %s: %w", s.o.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn)}
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	s.o.Logger.Info("http listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr returns the address listened on, after Start.
func (s *Service) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns "http://" + Addr().
func (s *Service) URL() string { return "http://" + s.Addr() }

// Close stops accepting, waits up to ShutdownTimeout for requests in flight,
// and waits for the serving goroutine. Calling it without Start is harmless.
func (s *Service) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.srv = nil
	if err != nil {
		return fmt.Errorf("service: close: %w", err)
	}
	return nil
}
