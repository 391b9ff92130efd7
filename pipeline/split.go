package pipeline

import (
	"fmt"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
)

// Messages of person events (hc.person-events, hc.presence) carry many
// events each. They are split by encoded size, not only by count: legal input
// (256-byte event ids, 2,000-byte override reasons, sources/text.go) makes
// 4,000 events weigh about 10 MB, and a message over the producer's
// BatchBytes, or the broker's message.max.bytes, fails the write on every
// retry and every restart.

// maxEventsPerMessage bounds the events of one message whatever their size,
// which bounds what a consumer decodes at once.
const maxEventsPerMessage = 4000

// eventBudget is the largest encoded value appendEventMessages produces: the
// producer's BatchBytes (kafka.Config, which the broker's limit must admit)
// less a sixteenth, for the key, the record and batch framing, and lz4's
// expansion of incompressible data.
func (o *Options) eventBudget() int {
	b := o.Kafka.BatchBytes
	if b <= 0 {
		b = 1 << 20 // kafka.Config's default; o.Kafka is filled in by New
	}
	return int(b - b/16)
}

// appendEventMessages encodes events bound for partition p as one or more
// messages, each of at most maxEventsPerMessage events and budget bytes of
// value. A chunk over budget is encoded again with fewer events (in
// proportion to its excess, and at least one fewer), and the count that
// fitted is where the next chunk starts, so a batch of large events costs few
// encodes more than a batch of small ones. An event that alone is
// over budget is sent alone (the write then fails loudly): sources' limits
// keep every event under 3 KB.
func appendEventMessages(dst []kafka.Message, p int, evs []scoring.Event, budget int) []kafka.Message {
	n := maxEventsPerMessage
	for len(evs) > 0 {
		n = min(n, len(evs))
		for {
			b, err := wire.EncodeEvents(evs[:n])
			if err != nil {
				// An encoding failure is a bug, not bad input: stop rather than lose events.
				panic(fmt.Sprintf("encode person events: %v", err))
			}
			if len(b) <= budget || n == 1 {
				dst = append(dst, kafka.Message{Partition: p, Key: evs[0].Person[:], Value: b})
				break
			}
			// Shrink in proportion to the excess, with a tenth to spare.
			n = max(1, min(n-1, int(int64(n)*int64(budget)*9/(10*int64(len(b))))))
		}
		evs = evs[n:]
	}
	return dst
}
