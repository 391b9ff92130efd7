package kafka

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestLabels_KafkaGoroutinesUnlabelled writes, reads and follows under a
// profiler label and checks, in a goroutine profile, that no goroutine
// running kafka-go code carries the label while the caller's still does.
func TestLabels_KafkaGoroutinesUnlabelled(t *testing.T) {
	e := startTestBroker(t)
	c := testClient(t, e)
	ctx := testContext(t, 30*time.Second)
	if err := c.EnsureTopics(ctx, TopicSpec{Name: "lbl", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	var labelled bool
	pprof.Do(ctx, pprof.Labels("stage", "test"), func(ctx context.Context) {
		w := c.NewWriter("lbl", nil)
		defer w.Close()
		if err := Write(ctx, w, Message{Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		r := c.NewGroupReader(ctx, "lbl-group", "lbl")
		defer r.Close()
		if _, err := FetchBatch(ctx, r, 1, 0, nil); err != nil {
			t.Fatal(err)
		}
		pr := c.NewPartitionReader("lbl", 0)
		defer pr.Close()
		if _, err := FetchBatch(ctx, pr, 1, 0, nil); err != nil {
			t.Fatal(err)
		}
		// Readers and writers are running now: look at every goroutine.
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 0); err != nil {
			t.Fatal(err)
		}
		prof, err := profile.Parse(&b)
		if err != nil {
			t.Fatal(err)
		}
		kafkaGoroutines := 0
		for _, s := range prof.Sample {
			isKafka, isTest := false, false
			for _, loc := range s.Location {
				for _, l := range loc.Line {
					isKafka = isKafka || strings.HasPrefix(l.Function.Name, "github.com/segmentio/kafka-go")
					isTest = isTest || strings.Contains(l.Function.Name, "TestLabels_KafkaGoroutinesUnlabelled")
				}
			}
			has := len(s.Label["stage"]) > 0
			if isTest {
				labelled = labelled || has
				continue
			}
			if isKafka {
				kafkaGoroutines += int(s.Value[0])
				if has {
					t.Errorf("a kafka-go goroutine carries the caller's label: %v", s.Location[0].Line[0].Function.Name)
				}
			}
		}
		if kafkaGoroutines == 0 {
			t.Error("no kafka-go goroutine found: the test checked nothing")
		}
	})
	if !labelled {
		t.Error("the caller's goroutine lost its label")
	}
}
