package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// counters are what the stream counted, by the peer_count processor: one
// set per run, owned by run.
type counters struct {
	messages atomic.Int64 // upstream messages into the pipeline
	rows     atomic.Int64 // rows headed for ClickHouse (the sum of @rows)
	dead     atomic.Int64 // rejected messages
}

// register adds the peer_count processor to env. Its configuration is the
// counter's name: "messages" and "dead_letters" count messages, "rows" sums
// each message's @rows metadata. It passes every message on unchanged.
func (c *counters) register(env *service.Environment) error {
	spec := service.NewConfigSpec().Summary("Counts messages, or rows, for the peer's final line.").
		Field(service.NewStringEnumField("", "messages", "rows", "dead_letters"))
	return env.RegisterBatchProcessor("peer_count", spec, func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchProcessor, error) {
		name, err := conf.FieldString()
		if err != nil {
			return nil, err
		}
		switch name {
		case "messages":
			return countProc{n: &c.messages}, nil
		case "dead_letters":
			return countProc{n: &c.dead}, nil
		case "rows":
			return countProc{n: &c.rows, meta: "rows"}, nil
		}
		return nil, fmt.Errorf("peer_count: unknown counter %q", name)
	})
}

// countProc adds to n the batch's messages, or (meta set) the sum of that
// metadata field's values.
type countProc struct {
	n    *atomic.Int64
	meta string
}

func (p countProc) ProcessBatch(_ context.Context, b service.MessageBatch) ([]service.MessageBatch, error) {
	if p.meta == "" {
		p.n.Add(int64(len(b)))
		return []service.MessageBatch{b}, nil
	}
	var sum int64
	for _, m := range b {
		v, ok := m.MetaGetMut(p.meta)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case int64:
			sum += x
		case int:
			sum += int64(x)
		case uint64:
			sum += int64(x)
		case float64:
			sum += int64(x)
		}
	}
	p.n.Add(sum)
	return []service.MessageBatch{b}, nil
}

func (countProc) Close(context.Context) error { return nil }
