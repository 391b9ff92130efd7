//go:build !linux

package chtest

import "os/exec"

// setParentDeathSignal does nothing where there is no parent-death signal:
// Main's stop is then the only cleanup.
func setParentDeathSignal(cmd *exec.Cmd) {}
