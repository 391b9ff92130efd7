package sources

import "fmt"

// Stream is one of the eight upstream message kinds of docs/contract.md. Topic names
// are configurable; the stream says how a topic's messages are decoded.
type Stream uint8

// The upstream streams.
const (
	StreamFlights Stream = iota + 1
	StreamTravel
	StreamTests
	StreamCheckins
	StreamVaccinations
	StreamDeclarations
	StreamAreaRisk
	StreamOverrides
)

// Streams lists every stream in a fixed order.
var Streams = []Stream{StreamFlights, StreamTravel, StreamTests, StreamCheckins,
	StreamVaccinations, StreamDeclarations, StreamAreaRisk, StreamOverrides}

var streamNames = map[Stream]string{
	StreamFlights:      "flights",
	StreamTravel:       "travel",
	StreamTests:        "tests",
	StreamCheckins:     "checkins",
	StreamVaccinations: "vaccinations",
	StreamDeclarations: "declarations",
	StreamAreaRisk:     "area-risk",
	StreamOverrides:    "overrides",
}

// String returns the stream's short name ("checkins").
func (s Stream) String() string {
	if n, ok := streamNames[s]; ok {
		return n
	}
	return fmt.Sprintf("stream(%d)", s)
}

// DefaultTopic is the contract's default topic name for the stream ("src.checkins").
func (s Stream) DefaultTopic() string { return "src." + s.String() }
