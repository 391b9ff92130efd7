package kafka

import (
	"context"
	"errors"
	"testing"
	"time"
)

// idleFetcher has no message: it waits for its context.
type idleFetcher struct{}

func (idleFetcher) FetchMessage(ctx context.Context) (Message, error) {
	<-ctx.Done()
	return Message{}, ctx.Err()
}

// FetchBatchWithin turns "no message within wait" into an empty batch, and
// reports the caller's context ending as an error.
func TestFetchBatchWithin_WaitIsNoError(t *testing.T) {
	start := time.Now()
	msgs, err := FetchBatchWithin(context.Background(), idleFetcher{}, 10, time.Millisecond, 50*time.Millisecond, nil)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("no input within the wait: %d messages, %v; want none, nil", len(msgs), err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("returned after %v, before the wait", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FetchBatchWithin(ctx, idleFetcher{}, 10, time.Millisecond, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("the caller's context ended: %v, want context.Canceled", err)
	}
}
