package sources

import "fmt"

// RejectClass groups rejections for metrics and tests.
type RejectClass uint8

// Rejection classes.
const (
	RejectMalformed RejectClass = iota + 1 // not JSON, not an object, or a field of the wrong JSON type
	RejectMissing                          // a required field is absent or empty
	RejectInvalid                          // a field has a value the contract does not allow
	RejectTime                             // a time is malformed, before 2020, too far ahead, or out of order
	RejectStream                           // the stream itself is unknown (a wiring error, not bad input)
)

var rejectClassNames = [...]string{"", "malformed", "missing", "invalid", "time", "stream"}

// String returns a short lowercase name ("missing"), usable as a metric label.
func (c RejectClass) String() string {
	if int(c) < len(rejectClassNames) && c != 0 {
		return rejectClassNames[c]
	}
	return fmt.Sprintf("reject(%d)", c)
}

// RejectError says why an upstream message was rejected. Its text is one
// sentence naming the stream, the field and the fault, and never quotes a raw
// identifier; the pipeline puts it in the dead-letter `error` header.
type RejectError struct {
	Stream Stream
	Class  RejectClass
	Field  string // JSON path of the offending field ("passengers[3].seat"); "" for the whole message
	Reason string // what is wrong, lowercase, no trailing period
}

func (e *RejectError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("rejected %s message: %s", e.Stream, e.Reason)
	}
	return fmt.Sprintf("rejected %s message: %s: %s", e.Stream, e.Field, e.Reason)
}
