package kafka

import kafkago "github.com/segmentio/kafka-go"

// NewWriter returns a producer for topic ("" for one that writes to the topic
// each message names): every write waits for all in-sync replicas
// (RequireAll), batches are lz4-compressed, and topics are never auto-created
// (EnsureTopics creates them). A nil balancer means &Hash{} (FNV-1a of the
// key, as Sarama). Close the writer to flush it and release its connections.
func (c *Client) NewWriter(topic string, balancer Balancer) *Writer {
	if balancer == nil {
		balancer = &kafkago.Hash{}
	}
	// kafka.NewWriter is deprecated in favour of a Writer literal, but it is
	// the only constructor whose Close also closes the connection pool it
	// creates (the literal form needs a Transport that nobody closes), and
	// it carries ClientID, TLS and SASL through the Dialer.
	w := kafkago.NewWriter(kafkago.WriterConfig{ //nolint:staticcheck // see above
		Brokers:      c.cfg.Brokers,
		Topic:        topic,
		Dialer:       c.dialer,
		Balancer:     balancer,
		BatchSize:    c.cfg.BatchSize,
		BatchBytes:   int(c.cfg.BatchBytes),
		BatchTimeout: c.cfg.BatchTimeout,
		RequiredAcks: int(kafkago.RequireAll),
		ErrorLogger:  c.errorLogger("writer " + topic),
	})
	w.RequiredAcks = kafkago.RequireAll
	w.Compression = kafkago.Lz4
	w.AllowAutoTopicCreation = false
	return w
}

// PartitionBalancer routes every message to the partition in its Partition
// field, which the caller sets (a message that carries many keys of one
// partition, for instance).
//
// kafka-go documents Message.Partition as read-only for writers, but its Writer
// passes each Message unchanged to Balance and then writes to whatever
// partition Balance returns (writer.go, WriteMessages); it overwrites
// Partition only in its completion report. A partition the topic does not
// have fails the write (after the writer's retries) rather than being moved
// silently to another one.
type PartitionBalancer struct{}

// Balance returns msg.Partition.
func (PartitionBalancer) Balance(msg Message, partitions ...int) int { return msg.Partition }
