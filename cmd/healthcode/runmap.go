package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/mapview"
)

// lazyMap serves the map page (/map, sinks/clickhouse/mapview) of `run
// --http` from the sink's ClickHouse database. It connects on the first
// request, and again after a failed one: ClickHouse may start after the
// pipeline, and the page must not hold up the stages.
type lazyMap struct {
	o  clickhouse.Options
	mu sync.Mutex // protects c and h
	c  *clickhouse.Client
	h  *mapview.Handler
}

func (m *lazyMap) handler(ctx context.Context) (*mapview.Handler, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil {
		return m.h, nil
	}
	c, err := clickhouse.Open(ctx, m.o)
	if err != nil {
		return nil, err
	}
	h, err := mapview.New(mapview.Options{Client: c})
	if err != nil {
		c.Close()
		return nil, err
	}
	m.c, m.h = c, h
	return h, nil
}

func (m *lazyMap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := m.handler(r.Context())
	if err != nil {
		http.Error(w, fmt.Sprintf("the map reads ClickHouse, which does not answer now: %v", err), http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

func (m *lazyMap) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c != nil {
		m.c.Close()
	}
}
