package wire

import "errors"

// ErrMalformed is wrapped by every decoding error caused by the input bytes.
var ErrMalformed = errors.New("malformed message")

// ErrVersion is wrapped when the header names a known format at a version this
// build does not read.
var ErrVersion = errors.New("unsupported format version")
