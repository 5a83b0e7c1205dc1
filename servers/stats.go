package servers

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/sockbench/sockbench/internal/atomicfile"
)

// StatsVersion is bumped whenever a field of Stats changes meaning.
const StatsVersion = 1

// Stats are a server's own counters, written as JSON to --stats-file when it
// stops. Counters a model cannot observe stay zero and are omitted; Syscalls
// is nil for the servers built on the Go runtime, whose syscalls the runtime
// makes on their behalf (measure those with the runner's strace pass).
type Stats struct {
	Version int    `json:"version"`
	Server  string `json:"server"`
	// Connections is the number of connections accepted.
	Connections uint64 `json:"connections"`
	// Requests is the number of complete requests answered, errors included.
	Requests uint64 `json:"requests"`
	// Errors counts responses with a 4xx or 5xx status.
	Errors uint64 `json:"errors"`
	// AcceptCalls counts accept(2) calls, including those that found nothing.
	AcceptCalls uint64 `json:"accept_calls"`
	// ListenerWakeups counts poller wakeups that reported a listener ready.
	ListenerWakeups uint64 `json:"listener_wakeups,omitempty"`
	// AcceptsPerWakeup is Connections / ListenerWakeups (thread post #19).
	AcceptsPerWakeup float64 `json:"accepts_per_wakeup,omitempty"`
	// Refused counts connections closed straight after accept because the
	// model could not take them: select past FD_SETSIZE, or a full worker
	// pool (which answers 503 first).
	Refused uint64 `json:"refused,omitempty"`
	// AcceptErrors counts failed accepts the server backed off from: out
	// of descriptors (EMFILE, ENFILE) or memory, or anything else but
	// "none pending" and an interrupted or aborted accept. While they
	// last, new clients wait in the backlog and the connections already
	// open are served.
	AcceptErrors uint64 `json:"accept_errors,omitempty"`
	// TimedOut counts connections closed by the header or idle timeout
	// (net/http's are not seen, and not counted).
	TimedOut  uint64 `json:"timed_out,omitempty"`
	BytesRead uint64 `json:"bytes_read"`
	// BytesWritten counts response bytes handed to the kernel.
	BytesWritten uint64 `json:"bytes_written"`
	// Syscalls counts every syscall the raw servers made, by name.
	Syscalls map[string]uint64 `json:"syscalls,omitempty"`
	// Completions counts the io_uring model's completions (CQEs), and
	// CompletionsPerEnter divides them by its io_uring_enter calls: the
	// work one kernel entry brings back.
	Completions         uint64  `json:"completions,omitempty"`
	CompletionsPerEnter float64 `json:"completions_per_enter,omitempty"`
}

// SyscallIOUringEnter is the io_uring model's name for its kernel
// entries in Syscalls.
const SyscallIOUringEnter = "io_uring_enter"

// Add merges o into s (per-loop counters are merged once, at the end).
func (s *Stats) Add(o Stats) {
	s.Connections += o.Connections
	s.Requests += o.Requests
	s.Errors += o.Errors
	s.AcceptCalls += o.AcceptCalls
	s.ListenerWakeups += o.ListenerWakeups
	s.Refused += o.Refused
	s.AcceptErrors += o.AcceptErrors
	s.TimedOut += o.TimedOut
	s.BytesRead += o.BytesRead
	s.BytesWritten += o.BytesWritten
	s.Completions += o.Completions
	for k, v := range o.Syscalls {
		if s.Syscalls == nil {
			s.Syscalls = map[string]uint64{}
		}
		s.Syscalls[k] += v
	}
	s.finish()
}

func (s *Stats) finish() {
	s.Version = StatsVersion
	if s.ListenerWakeups > 0 {
		s.AcceptsPerWakeup = float64(s.Connections) / float64(s.ListenerWakeups)
	}
	if enters := s.Syscalls[SyscallIOUringEnter]; enters > 0 {
		s.CompletionsPerEnter = float64(s.Completions) / float64(enters)
	}
}

// TotalSyscalls is the sum over Syscalls.
func (s Stats) TotalSyscalls() uint64 {
	var n uint64
	for _, v := range s.Syscalls {
		n += v
	}
	return n
}

// WriteStatsFile writes s as JSON to path atomically, so a reader never sees
// half a file even if the server is killed while writing.
func WriteStatsFile(path string, s Stats) error {
	s.finish()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// ReadStatsFile reads a file written by WriteStatsFile.
func ReadStatsFile(path string) (Stats, error) {
	var s Stats
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("stats file %s: %w", path, err)
	}
	if s.Version != StatsVersion {
		return s, fmt.Errorf("stats file %s: version %d, this sockbench reads version %d", path, s.Version, StatsVersion)
	}
	return s, nil
}
