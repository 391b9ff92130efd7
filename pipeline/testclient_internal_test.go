package pipeline

import (
	"testing"

	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
)

// testClient starts an embedded broker with parts partitions per topic for
// the test and returns a client of it; the broker stops with the test.
func testClient(t *testing.T, parts int) *kafka.Client {
	t.Helper()
	b, err := broker.Start(broker.Options{Partitions: parts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	kc, err := kafka.New(kafka.Config{Brokers: b.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}
