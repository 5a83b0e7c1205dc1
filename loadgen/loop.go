package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
)

// epollLoop is what the closed and stream engines' loops share: one epoll
// instance, whose wake-up stops the loop when the attack is cancelled, and
// the target's socket address. Each loop is used by one locked OS thread,
// so nothing on its hot path is shared.
type epollLoop struct {
	rec    *recorder
	poller *netpoll.Epoll
	// sc is the poller's count of its own calls, which nothing reads: the
	// generator's cost is measured as CPU time instead.
	sc       netpoll.Syscalls
	sa       unix.Sockaddr
	family   int
	events   []netpoll.Event
	stopping bool
}

func (l *epollLoop) init(rec *recorder, addr *net.TCPAddr) error {
	l.rec = rec
	// Each loop has its own socket address: x/sys/unix encodes into it on
	// every connect.
	l.sa, l.family = sockaddr(addr)
	p, err := netpoll.NewEpoll(&l.sc)
	if err != nil {
		return fmt.Errorf("event loop: %w", err)
	}
	l.poller = p
	l.events = make([]netpoll.Event, 0, 256)
	return nil
}

// wake interrupts the loop's wait; it is the one method called from
// another goroutine, and is safe even once the loop is released.
func (l *epollLoop) wake() { l.poller.Wake() }

func (l *epollLoop) release() {
	if l.poller != nil {
		l.poller.Close()
	}
}

// woken reports whether ev is the poller's wake-up, which only a
// cancellation sends, and if so stops the loop.
func (l *epollLoop) woken(ev netpoll.Event) bool {
	if ev.Events&netpoll.Woken == 0 {
		return false
	}
	l.stopping = true
	return true
}

// dial starts a non-blocking connect to the target and watches the socket
// for ev; the connect completes when the socket turns writable.
func (l *epollLoop) dial(ev netpoll.Events) (int, error) {
	fd, err := newSocket(l.family)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, l.sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return -1, err
	}
	if err := l.poller.Add(fd, ev); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// newSocket makes a client's TCP socket: non-blocking, with TCP_NODELAY,
// as wrk's.
func newSocket(family int) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return fd, nil
}

// connectRetry is the pause before a connection whose open failed tries
// again, so a server that refuses everything is not hammered by a loop
// spinning on connect.
const connectRetry = 10 * time.Millisecond

// connectError tells, for a socket that failed while connecting, a
// connect that was refused, unreachable or timed out from a connection the
// server accepted and then reset before the loop saw it complete: only the
// first is a connect error, returned; the second (nil) fails its first
// write or read.
func connectError(fd int) error {
	errno, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return err
	case unix.Errno(errno) == unix.ECONNRESET || unix.Errno(errno) == unix.EPIPE:
		return nil
	case errno == 0:
		// Failed without an error to say: a hang-up.
		return errConnectHangUp
	}
	return unix.Errno(errno)
}

var errConnectHangUp = errors.New("the connection hung up while connecting")

// loop is an engine's event loop as runLoops drives it.
type loop interface {
	run()
	wake()
	release()
}

// newLoops makes n loops, releasing those already made if one fails.
func newLoops[L loop](n int, make1 func() (L, error)) ([]L, error) {
	loops := make([]L, n)
	for i := range loops {
		l, err := make1()
		if err != nil {
			for _, l := range loops[:i] {
				l.release()
			}
			return nil, err
		}
		loops[i] = l
	}
	return loops, nil
}

// runLoops runs every loop on a goroutine of its own until all return,
// waking them when ctx is cancelled, then releases them. A wake-up may
// still be under way as they are released: the poller makes that safe.
func runLoops[L loop](ctx context.Context, loops []L) {
	stopWaking := context.AfterFunc(ctx, func() {
		for _, l := range loops {
			l.wake()
		}
	})
	defer stopWaking()
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(l.run)
	}
	wg.Wait()
	for _, l := range loops {
		l.release()
	}
}

// heldPs counts the loops, in all the attacks under way in this process,
// that keep their P while they sleep (netpoll's WaitHeld), and remembers
// the GOMAXPROCS they found.
var heldPs struct {
	sync.Mutex
	loops, found int
}

// holdPs makes room for n more loops that hold their P: each brings a P
// of its own, GOMAXPROCS rising by n, so that the rest of the program (an
// in-process server, an agent's stream, the collector, the garbage
// collector) keeps every P it had, as it did when the loops gave theirs
// up in their waits. Without it, under GOMAXPROCS=1 or with a loop per
// CPU, those goroutines would run only when the runtime preempts a loop,
// every 10 ms, and a loop once preempted could wait as long to run again.
// The returned function gives the room back, and GOMAXPROCS returns to
// what it was when the last holder is done.
func holdPs(n int) (release func()) {
	heldPs.Lock()
	defer heldPs.Unlock()
	if heldPs.loops == 0 {
		heldPs.found = runtime.GOMAXPROCS(0)
	}
	heldPs.loops += n
	if want := heldPs.found + heldPs.loops; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	return func() {
		heldPs.Lock()
		defer heldPs.Unlock()
		heldPs.loops -= n
		if heldPs.loops == 0 && runtime.GOMAXPROCS(0) != heldPs.found {
			runtime.GOMAXPROCS(heldPs.found)
		}
	}
}
