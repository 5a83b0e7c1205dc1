package eventloop

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/conns"
	"github.com/sockbench/sockbench/servers/deadline"
	"github.com/sockbench/sockbench/servers/http1"
)

// maxEvents is how many ready descriptors one wait returns at most.
const maxEvents = 512

// loop is one event loop. Everything it touches on the hot path is its own:
// no locks, no atomics (the stop flag is read only on a wake-up), counters
// in plain fields merged once when it ends (wrk's and gnet's per-loop
// design). It blocks in its poller until the next deadline of its
// connections (none, while no connection has one); Serve stops it through
// the poller's wake-up.
type loop struct {
	server      *Server
	poller      netpoll.Poller
	listener    int
	page        *http1.Page
	stream      bool
	nodelay     bool
	acceptBatch int
	oneshot     bool

	conns   conns.Table[conn]
	scratch []byte // stream mode's read buffer

	// timeouts are the loop's clock and its connections' deadlines.
	timeouts deadline.Set[conn]
	// listening says the poller watches the listener; it does not while
	// accepting is paused after a failure.
	listening bool
	// peer is the client address accept writes.
	peer    unix.RawSockaddrAny
	peerLen uint32

	sys      netpoll.Syscalls
	counters http1.Counters
	stats    servers.Stats
}

// conn is one client connection of a loop.
type conn struct {
	fd    int
	proto http1.Conn
	in    []byte // len is what is buffered; cap is the head limit
	out   []byte
	// written is how much of out the kernel has taken.
	written int
	// closing: once out is written, the connection ends.
	closing bool
	// watching is what the poller watches the descriptor for (0: nothing).
	watching netpoll.Events
	// timer is the connection's deadline. In the loop's linger list, the
	// answer is sent and the loop drops what the client still sends before
	// closing (see http1.LingerTime); lingered counts it.
	timer    deadline.Timer[conn]
	lingered int
}

func (l *loop) run() error {
	// One loop, one thread: the loop's syscalls never wait behind another
	// goroutine, as in a C event loop.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.closeAll()
	if err := l.watchListener(); err != nil {
		return err
	}
	events := make([]netpoll.Event, 0, maxEvents)
	l.timeouts.Tick()
	for {
		if err := l.expire(); err != nil {
			return err
		}
		var err error
		events, err = l.poller.Wait(events, waitMs(l.timeouts.Wait()))
		if err != nil {
			return err
		}
		l.timeouts.Tick()
		for _, ev := range events {
			fd := int(ev.FD)
			switch {
			case ev.Events&netpoll.Woken != 0:
				// Serve wakes a loop to stop it, a test to probe it.
				if l.server.stopping.Load() {
					return nil
				}
				if l.server.probe != nil {
					l.server.probe(l.sys)
				}
			case fd == l.listener:
				if err := l.accept(); err != nil {
					return err
				}
			default:
				if c := l.conns.Get(fd); c != nil {
					l.ready(c, ev.Events)
				}
			}
		}
	}
}

// accept handles a wakeup of the listener. A listener that cannot be
// watched again would leave the loop deaf to new connections, so that
// ends the loop.
func (l *loop) accept() error {
	l.stats.ListenerWakeups++
	if !l.oneshot {
		return l.acceptPending()
	}
	// Thread post #15: unregister after the wakeup, register again before
	// the next wait (unless a failed accept paused the listener).
	if err := l.unwatchListener(); err != nil {
		return err
	}
	if err := l.acceptPending(); err != nil {
		return err
	}
	if l.timeouts.AcceptPaused() {
		return nil
	}
	return l.watchListener()
}

func (l *loop) watchListener() error {
	if err := l.poller.Add(l.listener, netpoll.Readable); err != nil {
		return fmt.Errorf("watch listener: %w", err)
	}
	l.listening = true
	return nil
}

func (l *loop) unwatchListener() error {
	if err := l.poller.Remove(l.listener); err != nil {
		return fmt.Errorf("unwatch listener: %w", err)
	}
	l.listening = false
	return nil
}

// acceptPending takes up to acceptBatch pending connections (all of them
// when 0). Thread post #19: batches of 20-80 per wakeup are what make an
// event loop keep up with many short-lived connections.
func (l *loop) acceptPending() error {
	for n := 0; l.acceptBatch == 0 || n < l.acceptBatch; n++ {
		l.sys[netpoll.SysAccept]++
		l.stats.AcceptCalls++
		fd, err := netpoll.Accept(l.listener, &l.peer, &l.peerLen)
		switch {
		case err == unix.EAGAIN:
			return nil
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		case err != nil:
			// Out of descriptors (EMFILE, ENFILE), memory, or anything
			// else: count it and back off, serving the open connections
			// meanwhile; the pending ones wait in the backlog.
			l.stats.AcceptErrors++
			return l.pauseAccept()
		}
		l.timeouts.AcceptSucceeded()
		l.stats.Connections++
		l.addConn(fd, servers.PeerAddr(&l.peer))
	}
	return nil
}

// addConn makes an accepted socket from client one of the loop's
// connections, reusing a closed connection's buffers when there is one.
func (l *loop) addConn(fd int, client netip.Addr) {
	if l.nodelay {
		l.sys[netpoll.SysSetsockopt]++
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err := l.poller.Add(fd, netpoll.Readable); err != nil {
		if errors.Is(err, netpoll.ErrTooManyFDs) {
			refusedWarning()
		}
		l.stats.Refused++
		l.sys[netpoll.SysClose]++
		unix.Close(fd)
		return
	}
	c := l.conns.Add(fd, newConn)
	c.fd, c.written, c.closing, c.watching = fd, 0, false, netpoll.Readable
	c.in, c.out = c.in[:0], c.out[:0]
	c.proto.Reset(l.page, &l.counters, client)
	if !l.stream {
		// The first request's head is due from accept on.
		l.timeouts.Header.Move(c, l.timeouts.Now)
	}
}

func newConn() *conn {
	return &conn{in: make([]byte, 0, http1.MaxHeadBytes), out: make([]byte, 0, 4096)}
}

// ready handles one readiness event of a connection.
func (l *loop) ready(c *conn, ev netpoll.Events) {
	if ev&netpoll.Writable != 0 {
		if !l.flush(c) {
			return
		}
		if c.closing {
			l.finish(c)
			return
		}
		// The output is drained: go back to reading, and answer requests
		// that arrived while the output was blocked.
		l.watch(c, netpoll.Readable)
		l.process(c)
		return
	}
	if ev&(netpoll.Readable|netpoll.Failed) == 0 {
		return
	}
	if c.timer.In(&l.timeouts.Linger) {
		l.drain(c)
		return
	}
	if l.oneshot {
		l.watch(c, 0)
	}
	if l.stream {
		l.discard(c)
		return
	}
	if len(c.in) == cap(c.in) {
		// Serve answers 431 before the buffer fills; reading into no room
		// would look like EOF.
		l.close(c)
		return
	}
	l.sys[netpoll.SysRead]++
	n, err := netpoll.Read(c.fd, c.in[len(c.in):cap(c.in)])
	switch {
	case n > 0:
		l.stats.BytesRead += uint64(n)
		c.in = c.in[:len(c.in)+n]
		l.process(c)
	case err == unix.EAGAIN || err == unix.EINTR:
		l.rearm(c)
	default:
		// EOF or a reset: the client is gone.
		l.close(c)
	}
}

// process answers every complete request buffered in c, writing as it
// goes, and then waits for more under the timeout that applies.
func (l *loop) process(c *conn) {
	answered := l.counters.Requests
	for {
		consumed, out, closeAfter := c.proto.Serve(c.in, c.out)
		c.out = out
		if consumed > 0 {
			c.in = c.in[:copy(c.in, c.in[consumed:])]
		}
		c.closing = c.closing || closeAfter
		if !l.flush(c) {
			return // waiting for the socket to drain; reading is paused
		}
		if c.closing {
			l.finish(c)
			return
		}
		if consumed == 0 || len(c.in) == 0 {
			l.rearm(c)
			l.awaitRequest(c, l.counters.Requests != answered)
			return
		}
	}
}

// flush writes c.out; it reports whether all of it was written. On a full
// socket it switches the registration to writable (pausing reads, so a
// client that does not read its answers cannot make the server buffer more).
func (l *loop) flush(c *conn) bool {
	for c.written < len(c.out) {
		l.sys[netpoll.SysWrite]++
		n, err := netpoll.Write(c.fd, c.out[c.written:])
		if n > 0 {
			l.stats.BytesWritten += uint64(n)
			c.written += n
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.timer.Leave()
			l.watch(c, netpoll.Writable)
			return false
		}
		l.close(c)
		return false
	}
	c.out, c.written = c.out[:0], 0
	return true
}

// rearm makes sure the connection is watched for reading again (it is
// unwatched in oneshot mode after every wakeup).
func (l *loop) rearm(c *conn) {
	if c.watching != netpoll.Readable {
		l.watch(c, netpoll.Readable)
	}
}

func (l *loop) watch(c *conn, ev netpoll.Events) {
	var err error
	switch {
	case ev == c.watching:
		return
	case ev == 0:
		err = l.poller.Remove(c.fd)
	case c.watching == 0:
		err = l.poller.Add(c.fd, ev)
	default:
		err = l.poller.Modify(c.fd, ev)
	}
	if err != nil {
		l.close(c)
		return
	}
	c.watching = ev
}

// discard is stream mode: read and drop, count the bytes.
func (l *loop) discard(c *conn) {
	l.sys[netpoll.SysRead]++
	n, err := netpoll.Read(c.fd, l.scratch)
	switch {
	case n > 0:
		l.stats.BytesRead += uint64(n)
		l.rearm(c)
	case err == unix.EAGAIN || err == unix.EINTR:
		l.rearm(c)
	default:
		l.close(c)
	}
}

// finish ends a connection whose last answer is written: at once, or
// after a lingering close when the client may still be sending.
func (l *loop) finish(c *conn) {
	if !c.proto.MustLinger(len(c.in)) {
		l.close(c)
		return
	}
	l.sys[netpoll.SysShutdown]++
	if unix.Shutdown(c.fd, unix.SHUT_WR) != nil {
		l.close(c)
		return
	}
	l.timeouts.Linger.Move(c, l.timeouts.Now)
	c.lingered = 0
	l.rearm(c)
}

// drain drops what a lingering connection's client still sends, and
// closes once it stops (EOF), errs, or has sent too much.
func (l *loop) drain(c *conn) {
	l.sys[netpoll.SysRead]++
	n, err := netpoll.Read(c.fd, c.in[:cap(c.in)])
	c.lingered += n
	switch {
	case n > 0 && c.lingered < http1.LingerBytes:
		l.stats.BytesRead += uint64(n)
		l.rearm(c)
	case err == unix.EAGAIN || err == unix.EINTR:
		l.rearm(c)
	default:
		l.close(c)
	}
}

func (l *loop) close(c *conn) {
	if c.fd < 0 {
		return
	}
	c.timer.Leave()
	if c.watching != 0 {
		l.poller.Forget(c.fd)
	}
	l.sys[netpoll.SysClose]++
	unix.Close(c.fd)
	l.conns.Remove(c.fd)
	c.fd = -1
}

func (l *loop) closeAll() {
	for c := range l.conns.All() {
		l.close(c)
	}
	if l.listening {
		l.unwatchListener()
	}
}
