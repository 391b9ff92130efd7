package scoring

import "errors"

// Sentinel errors of the scoring package.
var (
	// ErrBadPolicy wraps every reason a policy file is refused.
	ErrBadPolicy = errors.New("invalid policy")
	// ErrBadEvent is returned by Engine.Apply for an event it cannot use.
	ErrBadEvent = errors.New("invalid person event")
	// ErrBadState is returned when a state record cannot be restored.
	ErrBadState = errors.New("invalid state record")
)
