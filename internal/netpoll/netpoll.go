// Package netpoll wraps the three readiness APIs the thread compares —
// epoll(7), poll(2) and select(2) — behind one small interface, so the event
// loop, the connection state machine and the HTTP code are written once and
// the servers differ only in their poller.
//
// Every poller counts the syscalls it makes into a Syscalls value owned by the
// loop, so counting costs one increment of a plain field: nothing is shared
// between loops until the counts are merged at the end.
//
// Every poller also owns its wake-up (an eventfd it watches beside the
// loop's descriptors): a loop blocks with no timeout, and whoever needs it —
// to stop it, above all — calls Wake, so an idle loop makes no syscalls.
//
// The package is Linux-only: epoll(7), eventfd(2) and poll's POLLRDHUP are.
package netpoll

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Events is a set of readiness conditions.
type Events uint8

const (
	// Readable: data (or a pending connection, or EOF) can be read.
	Readable Events = 1 << iota
	// Writable: the socket's send buffer has room.
	Writable
	// Failed: the peer hung up or the socket has an error; reading will say which.
	Failed
	// Woken: Wake was called. Wait reports a wake-up as an event of its
	// own, on the poller's eventfd, and has already consumed it.
	Woken
)

// Event reports one ready descriptor.
type Event struct {
	FD     int32
	Events Events
}

// Poller watches descriptors for readiness. It is used by one loop only and
// is not safe for concurrent use, except for Wake.
type Poller interface {
	// Add starts watching fd for ev.
	Add(fd int, ev Events) error
	// Modify changes the conditions fd is watched for.
	Modify(fd int, ev Events) error
	// Remove stops watching fd.
	Remove(fd int) error
	// Forget stops watching fd because it is about to be closed. epoll
	// drops a closed descriptor by itself, so it makes no syscall there —
	// nginx relies on the same, and a short-lived-connection benchmark
	// would otherwise pay one epoll_ctl per request that real servers don't.
	Forget(fd int) error
	// Wait blocks until at least one descriptor is ready, Wake is called,
	// or timeoutMs passes (-1: forever), and returns the ready ones
	// appended to dst[:0]. A wake-up comes as Event{FD: the poller's
	// eventfd, Events: Woken}, already consumed; its FD is one the caller
	// never added, so a loop that looks events up by descriptor finds
	// nothing there. An interrupted wait returns no events and no error.
	Wait(dst []Event, timeoutMs int) ([]Event, error)
	// Wake makes the Wait under way, or else the next one, return a Woken
	// event; wakes before that Wait count as one. It is safe from any
	// goroutine, also during and after Close (it then does nothing), and
	// cannot fail.
	Wake()
	// Close releases the poller's own resources, its wake-up included.
	Close() error
}

// Kind names a poller implementation.
type Kind string

// The poller kinds.
const (
	KindEpoll  Kind = "epoll"
	KindPoll   Kind = "poll"
	KindSelect Kind = "select"
)

// New creates a poller of the given kind that counts its syscalls into sc.
func New(kind Kind, sc *Syscalls) (Poller, error) {
	switch kind {
	case KindEpoll:
		return NewEpoll(sc)
	case KindPoll:
		return NewPoll(sc)
	case KindSelect:
		return NewSelect(sc)
	}
	return nil, fmt.Errorf("unknown poller %q", kind)
}

// ErrTooManyFDs is returned by the select poller for a descriptor at or above
// FD_SETSIZE, which select(2) cannot represent.
var ErrTooManyFDs = errors.New("descriptor at or above FD_SETSIZE (1024): select(2) cannot watch it")

// Syscall identifies a counted system call.
type Syscall uint8

// The syscalls sockbench's raw loops make.
const (
	SysEpollWait Syscall = iota
	SysEpollCtl
	SysPoll
	SysSelect
	SysAccept
	SysRead
	SysWrite
	SysClose
	SysSetsockopt
	SysSocket
	SysConnect
	SysGetsockopt
	SysShutdown
	numSyscalls
)

var syscallNames = [numSyscalls]string{
	SysEpollWait:  "epoll_wait",
	SysEpollCtl:   "epoll_ctl",
	SysPoll:       "poll",
	SysSelect:     "select",
	SysAccept:     "accept4",
	SysRead:       "read",
	SysWrite:      "write",
	SysClose:      "close",
	SysSetsockopt: "setsockopt",
	SysSocket:     "socket",
	SysConnect:    "connect",
	SysGetsockopt: "getsockopt",
	SysShutdown:   "shutdown",
}

func (s Syscall) String() string { return syscallNames[s] }

// Syscalls counts syscalls by kind. One loop owns one value.
type Syscalls [numSyscalls]uint64

// Map returns the non-zero counts by syscall name.
func (c *Syscalls) Map() map[string]uint64 {
	m := make(map[string]uint64)
	for i, n := range c {
		if n > 0 {
			m[syscallNames[i]] = n
		}
	}
	return m
}

// Events strings read "r", "w", "rw", "rwf"; a wake-up is "k" (kicked).
func (e Events) String() string {
	var b strings.Builder
	for _, f := range []struct {
		bit Events
		c   byte
	}{{Readable, 'r'}, {Writable, 'w'}, {Failed, 'f'}, {Woken, 'k'}} {
		if e&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	return b.String()
}

// retryEINTR reports whether err is the interrupted-syscall error that a
// wait should treat as "nothing ready yet"; the Go runtime's preemption
// signals make it common.
func retryEINTR(err error) bool { return err == unix.EINTR }

// scanFrom visits the indexes below n once each, from start round to
// start-1, until visit says stop, and gives where the next scan starts:
// after the last index visited when it stopped early, else start again.
// poll(2) and select(2) mark every ready descriptor, and a wait reports
// at most as many as its caller's buffer holds: a scan that began at the
// first descriptor every time would report the same ones turn after turn
// while the rest starved (thread post #18), as the first 512 of 5000 did.
func scanFrom(start, n int, visit func(int) bool) int {
	if start >= n {
		start = 0
	}
	// A wrapping index, not (start+k)%n: a division per descriptor made
	// a scan of 5000 nearly four times as slow.
	i := start
	for range n {
		next := i + 1
		if next == n {
			next = 0
		}
		if !visit(i) {
			return next
		}
		i = next
	}
	return start
}
