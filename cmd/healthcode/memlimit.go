package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of a container's memory limit the Go heap is
// held to, leaving the rest for stacks, kafka-go and ClickHouse buffers
// outside the heap, and the runtime's own overhead.
const memoryLimitShare = 0.9

// cgroupMemoryFiles are where Linux publishes the memory limit of the
// process's cgroup: v2 first, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// cgroup's (a container's) memory limit, unless GOMEMLIMIT sets one: the
// collector then works harder as the heap nears the limit instead of
// letting it grow to twice the live data (GOGC's default) and the container
// be killed for memory. Without a cgroup limit nothing changes.
func setMemoryLimit(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, file := cgroupMemoryLimit(cgroupMemoryFiles)
	if limit <= 0 {
		return
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Debug("go memory limit set from the cgroup's", slog.String("file", file),
		slog.Int64("cgroup_bytes", limit), slog.Int64("limit_bytes", soft))
}

// cgroupMemoryLimit returns the first finite limit of files, in bytes, and
// the file it came from; 0 if none ("max", absent, or v1's "unlimited",
// a value near 2^63).
func cgroupMemoryLimit(files []string) (int64, string) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "" || s == "max" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			continue
		}
		return n, f
	}
	return 0, ""
}
