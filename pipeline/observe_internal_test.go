package pipeline

import (
	"testing"
	"time"

	"healthcode/pipeline/kafka"
)

func TestColourOf(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := colourOf([]byte(in)); got != want {
			t.Errorf("colourOf(%s) = %q, want %q", in, got, want)
		}
	}
	f(`{"person_key":"ab","colour":"red","previous":"green"}`, "red")
	f(`{"previous":"green", "colour" : "amber"}`, "amber") // spaced: the slow path
	f(`{}`, "")
}

func TestUpstreamTime(t *testing.T) {
	t0 := time.UnixMilli(1_600_000_000_123)
	in := []kafka.Message{{Time: t0.Add(time.Second)}, {Time: t0}, {Time: t0.Add(2 * time.Second)}}
	out := []kafka.Message{{}, {}}
	stampUpstream(out, in)
	for i := range out {
		if got := upstreamTime(&out[i]); !got.Equal(t0) {
			t.Errorf("message %d: upstream time %v, want the batch's oldest %v", i, got, t0)
		}
	}
	own := kafka.Message{Time: t0.Add(time.Hour)}
	if got := upstreamTime(&own); !got.Equal(own.Time) {
		t.Errorf("unstamped message: %v, want its own timestamp", got)
	}
}

func TestCountByTopic(t *testing.T) {
	got := map[string]int{}
	countByTopic([]kafka.Message{{Topic: "a"}, {Topic: "a"}, {Topic: "b"}, {Topic: "a"}}, func(topic string, n int) { got[topic] += n })
	if got["a"] != 3 || got["b"] != 1 || len(got) != 2 {
		t.Errorf("countByTopic = %v", got)
	}
}
