package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestService_Endpoints(t *testing.T) {
	s := New(Options{})
	var ready atomic.Bool
	s.AddCheck("restore", func() error {
		if !ready.Load() {
			return errors.New("still reading the topics")
		}
		return nil
	})
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "things"})
	s.Registry().MustRegister(c)
	c.Add(3)
	s.Mux().HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())

	if code, body := get(t, s.URL()+"/healthz"); code != 200 {
		t.Errorf("/healthz %d %s", code, body)
	}
	if code, body := get(t, s.URL()+"/readyz"); code != 503 || !strings.Contains(body, "restore: still reading the topics") {
		t.Errorf("/readyz before ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, body := get(t, s.URL()+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	code, body := get(t, s.URL()+"/metrics")
	for _, want := range []string{"test_things_total 3", "go_goroutines", "process_cpu_seconds_total"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q (status %d)", want, code)
		}
	}
	if code, _ := get(t, s.URL()+"/debug/pprof/"); code != 200 {
		t.Errorf("/debug/pprof/ %d", code)
	}
	if code, body := get(t, s.URL()+"/hello"); code != 200 || body != "hi" {
		t.Errorf("/hello %d %q", code, body)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestService_Liveness(t *testing.T) {
	s := New(Options{})
	var dead atomic.Bool
	s.AddLiveness("stages", func() error {
		if dead.Load() {
			return errors.New("a stage stopped")
		}
		return nil
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if code, body := get(t, s.URL()+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz alive: %d %q", code, body)
	}
	dead.Store(true)
	if code, body := get(t, s.URL()+"/healthz"); code != 503 || !strings.Contains(body, "stages: a stage stopped") {
		t.Errorf("/healthz dead: %d %q", code, body)
	}
}
