package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
)

func init() { engines[Closed] = runClosed }

// The closed-loop engine is wrk's design in Go: each loop is one locked OS
// thread with its own epoll instance and connections, non-blocking sockets
// and syscalls made without the runtime's bookkeeping. Unlike wrk it writes
// the next request straight after reading an answer instead of
// re-registering for writability, which saves two epoll_ctl calls per
// request. Paced (Rate), a loop sends on a schedule of its own; pace.go
// says how it does so at wrk2's cost. With --io uring the same loop, and
// this state machine, does its I/O on io_uring instead (uring.go).
func runClosed(ctx context.Context, o Options, target *url.URL, col *collector) error {
	addr, err := resolve(target.Host, o.Timeout)
	if err != nil {
		return err
	}
	req := buildRequest(o, target)
	t0 := time.Now()
	loops, err := newLoops(o.Threads, func() (*closedLoop, error) {
		return newClosedLoop(o, col.recorder(), addr, req)
	})
	if err != nil {
		return err
	}
	// Connections, quota and schedule offsets are dealt out in turn so
	// every loop's share differs from another's by at most one.
	for g := range o.Connections {
		l := loops[g%len(loops)]
		c := &httpConn{fd: -1, heapIdx: -1, slot: uint32(len(l.conns)), p: respParser{noBody: o.Method == "HEAD"}}
		if o.Rate > 0 {
			c.due = t0.Add(time.Duration(float64(g) / o.Rate * float64(time.Second)))
		}
		l.conns = append(l.conns, c)
	}
	if o.MaxRequests > 0 {
		for i, l := range loops {
			l.quota = o.MaxRequests / int64(len(loops))
			if int64(i) < o.MaxRequests%int64(len(loops)) {
				l.quota++
			}
		}
	}
	defer holdPs(len(loops))()
	runLoops(ctx, loops)
	for _, l := range loops {
		if l.ur != nil && l.ur.err != nil {
			return fmt.Errorf("io_uring load loop: %w", l.ur.err)
		}
	}
	return nil
}

// resolve finds the target's socket address and checks, once, that
// something accepts connections there: otherwise every request would fail
// and the result would be a page of connect errors instead of a sentence.
func resolve(hostport string, timeout time.Duration) (*net.TCPAddr, error) {
	addr, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", hostport, err)
	}
	probe, err := net.DialTimeout("tcp", addr.String(), timeout)
	if err != nil {
		return nil, fmt.Errorf("nothing accepts connections at %s: %w", addr, err)
	}
	probe.Close()
	return addr, nil
}

func sockaddr(addr *net.TCPAddr) (unix.Sockaddr, int) {
	if ip4 := addr.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET
	}
	sa := &unix.SockaddrInet6{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To16())
	return sa, unix.AF_INET6
}

// connState is where a closed-loop connection is in its request cycle.
type connState uint8

const (
	// connIdle: closed, or waiting for its paced time.
	connIdle connState = iota
	// connConnecting: its connect has not completed yet.
	connConnecting
	// connWriting: part of the request batch is still to be written.
	connWriting
	// connReading: the batch is written; answers are awaited.
	connReading
)

// httpConn is one HTTP connection of a closed loop.
type httpConn struct {
	fd    int
	state connState
	// woff is how much of the request batch has been written.
	woff int
	// pending is the number of requests sent and not yet answered.
	pending int
	// start is the latency origin of the outstanding requests: when they
	// were written, when their connection was opened (Close), or when
	// they were due (paced).
	start time.Time
	// due is when the next paced request should leave; heapIdx is the
	// connection's place in the loop's schedule (-1: not in it).
	due     time.Time
	heapIdx int
	// overdue: paced, its next request's time came while it still
	// waited for an answer; the request leaves when the answer is read.
	overdue bool
	// prompt: the loop must wake for this connection's socket, not only
	// at its schedule's times (closedLoop.prompt).
	prompt bool
	// retry is when a connection that failed to open may try again.
	retry time.Time
	// wantWrite: the socket is registered for writability because a
	// write could not finish.
	wantWrite bool
	// served: the open connection has answered a request, so a close
	// that finds nothing of the next answer ended a connection the server
	// was done with (closedByServer).
	served bool
	// opened: the slot has had a connection; its next open is a
	// reconnect.
	opened bool
	// done counts the requests the slot got answered in the window,
	// across its connections, for the fairness between connections.
	done int64
	p    respParser
	// With io_uring (uring.go): slot is the connection's index in its
	// loop; gen counts its sockets, and sends its sends and sockets, so
	// that a completion from a socket since closed, or the failure of a
	// send since followed by another, is told apart; receiving: its
	// multishot receive is armed.
	slot, gen, sends uint32
	receiving        bool
}

type closedLoop struct {
	epollLoop
	o     *Options
	req   []byte
	conns []*httpConn
	byFD  []*httpConn
	rbuf  []byte

	// Pacing (pace.go). waiting holds the paced connections by when
	// their next request is due; interval is each connection's share of
	// the schedule, window how far ahead of its time a request may leave
	// with others.
	waiting  dueHeap
	interval time.Duration
	window   time.Duration
	// timer is the poller a paced loop sleeps on while no socket needs it
	// promptly (prompt counts those that do): it watches nothing but its
	// wake-up, so only the schedule and a cancellation end the sleep.
	// stamps reads answers with the kernel's time of arrival, which makes
	// that sleep possible; nil if the kernel would not stamp.
	timer       *netpoll.Epoll
	timerEvents []netpoll.Event
	prompt      int
	stamps      *stampReader
	// quota is the loop's share of the request budget (0: no limit,
	// budgetSpent); inFlight counts the requests unanswered.
	quota    int64
	inFlight int
	nextScan time.Time
	// The causes of the loop's timeouts, made once: they name the limit.
	noAnswer, noConnect error
	// ur is the loop's io_uring (--io uring); nil, the loop is on epoll.
	ur *uringIO
}

func newClosedLoop(o Options, rec *recorder, addr *net.TCPAddr, req []byte) (*closedLoop, error) {
	l := &closedLoop{
		o: &o, req: req,
		noAnswer:  fmt.Errorf("no answer within %s %v", FlagName("timeout"), o.Timeout),
		noConnect: fmt.Errorf("no connection within %s %v", FlagName("timeout"), o.Timeout),
	}
	if o.IO == IOUring {
		l.rec = rec
		ur, err := newUringIO(addr, o.Connections/o.Threads+1)
		if err != nil {
			return nil, err
		}
		l.ur = ur
		rec.enters = &ur.ring.Stats.Enters
	} else {
		if err := l.init(rec, addr); err != nil {
			return nil, err
		}
		// The ring's receives have their buffers: only epoll reads.
		l.rbuf = make([]byte, 64<<10)
	}
	if o.Rate > 0 {
		if err := l.initPacing(o); err != nil {
			l.release()
			return nil, err
		}
	}
	return l, nil
}

// wake interrupts the loop's wait, on whichever poller it sleeps.
func (l *closedLoop) wake() {
	if l.ur != nil {
		l.ur.wake.Wake()
		return
	}
	l.epollLoop.wake()
	if l.timer != nil {
		l.timer.Wake()
	}
}

func (l *closedLoop) release() {
	if l.ur != nil {
		l.ur.release()
		return
	}
	l.epollLoop.release()
	if l.timer != nil {
		l.timer.Close()
	}
}

func (l *closedLoop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if l.interval > 0 {
		// Wake-ups on a paced schedule must be on time to the
		// microsecond, not the default 50 µs of timer slack.
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	}
	if l.ur != nil {
		l.ur.start()
	}
	now := time.Now()
	end := l.rec.c.windowEnd
	for _, c := range l.conns {
		l.next(c, now)
		l.sync(c)
	}
	var err error
	for !l.stopping {
		now = time.Now()
		l.rec.tick(now)
		if !now.Before(end) || (l.budgetSpent(now) && l.inFlight == 0) {
			break
		}
		l.sendDue(now)
		if !now.Before(l.nextScan) {
			l.scan(now)
		}
		wait := min(l.rec.untilTick(now), end.Sub(now), l.nextScan.Sub(now))
		if len(l.waiting) > 0 {
			wait = min(wait, l.waiting[0].due.Sub(now))
		}
		var closing bool
		if l.ur != nil {
			closing, err = l.ur.poll(l, max(wait, 0), end)
		} else {
			closing, err = l.poll(max(wait, 0), end)
		}
		if err != nil || closing {
			// The window has closed, or the poller or the ring failed:
			// nothing more can be measured.
			break
		}
	}
	// The window has closed (or the attack was stopped): whatever is
	// still unanswered goes with its connection.
	now = time.Now()
	l.rec.abandoned(now, l.inFlight)
	for _, c := range l.conns {
		l.closeConn(c)
		l.rec.perConn = append(l.rec.perConn, c.done)
	}
	if l.ur != nil {
		l.ur.flush()
	}
	l.rec.finish(now)
}

// poll waits for at most d for the sockets and handles those ready. Once
// the window has closed (closing), only answers that arrived before it
// still count (read stops at the first that did not): the rest are
// unfinished.
func (l *closedLoop) poll(d time.Duration, end time.Time) (closing bool, err error) {
	evs, err := l.wait(d)
	if err != nil {
		return false, err
	}
	l.events = evs
	now := time.Now()
	closing = !now.Before(end)
	for _, ev := range evs {
		if l.woken(ev) {
			continue
		}
		c := l.conn(int(ev.FD))
		switch {
		case c == nil:
		case closing:
			if c.state == connReading && ev.Events&(netpoll.Readable|netpoll.Failed) != 0 {
				l.read(c, now)
			}
		default:
			l.handle(c, ev.Events, now)
			l.sync(c)
		}
	}
	return closing, nil
}

// wait blocks for at most d, keeping the loop's P (netpoll's WaitHeld), and
// returns the sockets that are ready.
func (l *closedLoop) wait(d time.Duration) ([]netpoll.Event, error) {
	if l.timer == nil || l.stamps == nil || l.prompt > 0 {
		return l.poller.WaitHeld(l.events, d)
	}
	if d > 0 {
		evs, err := l.timer.WaitHeld(l.timerEvents, d)
		if err != nil {
			return l.events[:0], err
		}
		for _, ev := range evs {
			l.woken(ev)
		}
	}
	return l.poller.Wait(l.events, 0)
}

// scan fails requests that have waited longer than the timeout and retries
// connections whose open failed; both are rare, so a sweep every tenth of
// the timeout is precise enough and costs nothing per request.
func (l *closedLoop) scan(now time.Time) {
	l.nextScan = now.Add(min(l.o.Timeout/10, 100*time.Millisecond))
	for _, c := range l.conns {
		switch {
		case c.state == connIdle && c.fd < 0 && c.heapIdx < 0 && !c.retry.IsZero() && !now.Before(c.retry):
			c.retry = time.Time{}
			// Held back by its connection, not by the loop.
			c.overdue = l.interval > 0
			l.next(c, now)
		case c.state != connIdle && now.Sub(c.start) > l.o.Timeout:
			cause := l.noAnswer
			if c.state == connConnecting {
				cause = l.noConnect
			}
			l.failPending(c, now, failTimeout, cause)
			l.reopen(c, now)
		}
		l.sync(c)
	}
}

func (l *closedLoop) conn(fd int) *httpConn {
	if fd < len(l.byFD) {
		return l.byFD[fd]
	}
	return nil
}

// next starts the connection's next request: now, or at its paced time.
func (l *closedLoop) next(c *httpConn, now time.Time) {
	if l.interval > 0 {
		if c.heapIdx >= 0 {
			// Its time is in the schedule already.
			c.state = connIdle
			return
		}
		if c.due.After(now.Add(l.window)) {
			c.state = connIdle
			l.waiting.push(c)
			return
		}
	}
	l.send(c, now)
}

// budgetSpent says the loop has sent its share of the request budget,
// which is counted in the measured window as the result counts: the
// requests answered or failed there, and those in flight, which end
// there. Warm-up spends none of it.
func (l *closedLoop) budgetSpent(now time.Time) bool {
	return l.quota > 0 && !now.Before(l.rec.c.windowStart) && l.rec.requests+l.rec.errors.Total()+int64(l.inFlight) >= l.quota
}

// send writes the next request batch, opening a connection first if the
// connection has none.
func (l *closedLoop) send(c *httpConn, now time.Time) {
	end := l.rec.c.windowEnd
	if l.budgetSpent(now) || !now.Before(end) || l.interval > 0 && !c.due.Before(end) {
		// A paced request due after the window never leaves, however
		// early it could: the count of requests is the schedule's.
		c.state = connIdle
		return
	}
	l.inFlight += l.o.Pipeline
	c.pending = l.o.Pipeline
	c.start = now
	if l.interval > 0 {
		l.sendPaced(c)
	}
	if c.fd < 0 {
		l.open(c, now)
		return
	}
	c.woff = 0
	c.state = connWriting
	l.write(c, now)
}

func (l *closedLoop) open(c *httpConn, now time.Time) {
	var fd int
	var err error
	if l.ur != nil {
		fd, err = l.ur.dial(c)
	} else {
		fd, err = l.dial(netpoll.Readable | netpoll.Writable)
	}
	if err != nil {
		l.connectFailed(c, time.Now(), err)
		return
	}
	if c.opened {
		l.rec.reconnected(now)
	}
	c.opened = true
	if l.stamps != nil && !l.stamps.enable(fd) {
		// Unstamped answers are timed when read: the loop must
		// then wake for every one (wait).
		l.stamps = nil
	}
	c.fd = fd
	c.state = connConnecting
	if l.ur != nil {
		return
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = c
}

// connectFailed counts a connection that could not be opened and retries
// it after a pause, so a server that refuses everything is not hammered by
// a loop spinning on connect.
func (l *closedLoop) connectFailed(c *httpConn, now time.Time, cause error) {
	if c.heapIdx >= 0 {
		// The retry (scan) takes it back into the schedule.
		l.waiting.remove(c)
	}
	c.overdue = false
	l.rec.fail(now, failConnect, cause)
	l.inFlight -= c.pending
	c.pending = 0
	c.state = connIdle
	c.retry = now.Add(connectRetry)
	if c.retry.Before(l.nextScan) {
		l.nextScan = c.retry
	}
}

func (l *closedLoop) handle(c *httpConn, ev netpoll.Events, now time.Time) {
	switch c.state {
	case connConnecting:
		if ev&netpoll.Failed != 0 {
			if err := connectError(c.fd); err != nil {
				l.dropConn(c)
				l.connectFailed(c, now, err)
				return
			}
		}
		if ev&netpoll.Writable == 0 {
			return
		}
		if err := l.poller.Modify(c.fd, netpoll.Readable); err != nil {
			l.dropConn(c)
			l.connectFailed(c, now, err)
			return
		}
		l.connected(c, now)
	case connWriting:
		if ev&(netpoll.Writable|netpoll.Failed) != 0 {
			l.write(c, now)
		}
		if c.state == connReading && ev&(netpoll.Readable|netpoll.Failed) != 0 {
			l.read(c, now)
		}
	default:
		if ev&(netpoll.Readable|netpoll.Failed) != 0 {
			l.read(c, now)
		}
	}
}

// connected starts writing the batch on a connection just opened.
func (l *closedLoop) connected(c *httpConn, now time.Time) {
	c.woff = 0
	c.state = connWriting
	l.write(c, now)
}

func (l *closedLoop) write(c *httpConn, now time.Time) {
	if l.ur != nil {
		l.ur.send(c, l.req[c.woff:])
		c.woff = len(l.req)
		c.state = connReading
		return
	}
	for c.woff < len(l.req) {
		n, err := netpoll.Write(c.fd, l.req[c.woff:])
		switch {
		case err == unix.EAGAIN:
			if !c.wantWrite {
				l.watchWrites(c, true, now)
			}
			return
		case err == unix.EINTR:
			continue
		case err != nil:
			l.writeFailed(c, err, now)
			return
		}
		c.woff += n
	}
	if c.wantWrite && !l.watchWrites(c, false, now) {
		return
	}
	c.state = connReading
}

// writeFailed ends a connection whose request could not be written: a
// close by a server done with it, or a write error.
func (l *closedLoop) writeFailed(c *httpConn, err error, now time.Time) {
	if peerClosed(err) && c.p.between() && l.closedByServer(c, now) {
		return
	}
	l.failPending(c, now, failWrite, err)
	l.reopen(c, now)
}

// watchWrites starts or stops watching c for room to write, beside its
// answers. A socket the poller will not watch as asked would stall (or
// spin) its requests, so they fail as write errors and a new connection
// takes its place; watchWrites then reports false and c is no longer the
// caller's.
func (l *closedLoop) watchWrites(c *httpConn, on bool, now time.Time) bool {
	ev := netpoll.Readable
	if on {
		ev |= netpoll.Writable
	}
	if err := l.poller.Modify(c.fd, ev); err != nil {
		l.failPending(c, now, failWrite, err)
		l.reopen(c, now)
		return false
	}
	c.wantWrite = on
	return true
}

func (l *closedLoop) read(c *httpConn, now time.Time) {
	n, at, err := l.readAnswer(c.fd, now)
	l.received(c, l.rbuf[:max(n, 0)], at, err, now)
}

// received handles what a read or a receive brought the connection: p,
// which arrived at at, or the read's error; nothing and no error is the
// end of the stream.
func (l *closedLoop) received(c *httpConn, p []byte, at time.Time, err error, now time.Time) {
	n := len(p)
	closing := !now.Before(l.rec.c.windowEnd)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case closing && (err != nil || n == 0):
		// Failed after the window closed: unfinished, not an error.
		return
	case err != nil:
		if peerClosed(err) && c.p.between() && l.closedByServer(c, now) {
			return
		}
		l.failPending(c, now, failRead, err)
		l.reopen(c, now)
		return
	case n == 0:
		between := c.p.between()
		if c.p.eof() {
			// The body ran to the close; answered replaces the
			// connection.
			l.answered(c, at, now)
			return
		}
		if between && l.closedByServer(c, now) {
			return
		}
		if c.pending > 0 {
			l.failPending(c, now, failRead, errClosedBeforeAnswer)
		}
		l.reopen(c, now)
		return
	}
	for len(p) > 0 && c.fd >= 0 {
		used, complete, err := c.p.next(p)
		p = p[used:]
		if err != nil {
			l.failPending(c, now, failMalformed, err)
			l.reopen(c, now)
			return
		}
		if complete {
			if c.pending == 0 {
				l.failPending(c, now, failMalformed, errUnasked)
				l.reopen(c, now)
				return
			}
			if !l.answered(c, at, now) {
				return
			}
		}
	}
}

// readAnswer reads what the connection has into rbuf, with the time it
// arrived: the kernel's stamp on a paced loop, else now.
func (l *closedLoop) readAnswer(fd int, now time.Time) (int, time.Time, error) {
	if l.stamps == nil {
		n, err := netpoll.Read(fd, l.rbuf)
		return n, now, err
	}
	return l.stamps.read(fd, now)
}

// answered records the response the parser just completed, which arrived
// at at, and moves the connection on. An answer that arrived after the
// window closed is not taken: answered reports false, and its request
// stays unfinished.
func (l *closedLoop) answered(c *httpConn, at, now time.Time) bool {
	if !at.Before(l.rec.c.windowEnd) {
		return false
	}
	lat := max(at.Sub(c.start), 0)
	if c.p.status == l.o.Status {
		if l.rec.success(at, lat, c.p.status, c.p.size) {
			c.done++
		}
	} else {
		l.rec.badStatus(at, c.p.status, c.p.size)
	}
	c.pending--
	l.inFlight--
	c.served = true
	serverCloses := c.p.close
	if c.pending > 0 {
		if serverCloses {
			l.failPending(c, now, failRead, errClosedWithPipelined)
			l.reopen(c, now)
		}
		return true
	}
	if serverCloses && !l.o.Close {
		l.rec.serverClosed(now)
	}
	if serverCloses || l.o.Close {
		l.dropConn(c)
	}
	l.next(c, now)
	return true
}

// closedByServer takes a close (an end of file, a reset, a broken pipe)
// that found nothing of an answer under way as the server ending a
// connection after a complete answer, when no request was outstanding or
// the connection had answered before and none of its current batch: as
// far as a client can tell the server closed before it read the batch,
// and RFC 9112 §9.3.1 lets a client send such requests again, on a new
// connection. wrk counts such a close as a
// read error and loses the request; here it is counted apart from
// errors, the connection reopens, and the batch leaves again keeping its
// latency origin, so its latency includes the close and the connect. A
// close on a connection that never answered, or one that left part of a
// pipelined batch unanswered, is a failure: closedByServer reports false
// and does nothing.
func (l *closedLoop) closedByServer(c *httpConn, now time.Time) bool {
	if c.pending > 0 && (!c.served || c.pending < l.o.Pipeline) {
		return false
	}
	l.rec.serverClosed(now)
	if c.pending == 0 {
		l.reopen(c, now)
		return true
	}
	l.dropConn(c)
	l.open(c, now)
	return true
}

// peerClosed reports whether a read or write failed because the server
// had closed the connection.
func peerClosed(err error) bool { return err == unix.ECONNRESET || err == unix.EPIPE }

// failPending counts every unanswered request of the connection as failed.
func (l *closedLoop) failPending(c *httpConn, now time.Time, kind failureKind, cause error) {
	for range max(c.pending, 1) {
		l.rec.fail(now, kind, cause)
	}
	l.inFlight -= c.pending
	c.pending = 0
}

// reopen replaces a broken connection and starts its next request.
func (l *closedLoop) reopen(c *httpConn, now time.Time) {
	l.dropConn(c)
	if c.heapIdx < 0 {
		// An idle paced connection keeps its place in the schedule and
		// opens anew when due.
		l.next(c, now)
	}
}

func (l *closedLoop) dropConn(c *httpConn) {
	switch {
	case c.fd >= 0 && l.ur != nil:
		l.ur.drop(c)
		c.fd = -1
	case c.fd >= 0:
		l.byFD[c.fd] = nil
		unix.Close(c.fd)
		c.fd = -1
	}
	c.p.eof()
	c.state = connIdle
	c.wantWrite = false
	c.served = false
}

func (l *closedLoop) closeConn(c *httpConn) {
	if c.heapIdx >= 0 {
		l.waiting.remove(c)
	}
	l.dropConn(c)
}

// The causes of failures that no system call reports.
var (
	errClosedBeforeAnswer  = errors.New("the server closed the connection before answering")
	errClosedWithPipelined = errors.New("the server closed the connection with pipelined requests unanswered")
	errUnasked             = errors.New("an answer to no request")
)
