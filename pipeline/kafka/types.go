package kafka

import kafkago "github.com/segmentio/kafka-go"

// Aliases of the kafka-go types the toolkit's callers handle.
type (
	Message         = kafkago.Message
	Header          = kafkago.Header
	Writer          = kafkago.Writer
	Reader          = kafkago.Reader
	Balancer        = kafkago.Balancer
	Hash            = kafkago.Hash
	Murmur2Balancer = kafkago.Murmur2Balancer
)

// FirstOffset stands for the first offset a partition retains, where a
// partition without a committed offset is read from.
const FirstOffset = kafkago.FirstOffset
