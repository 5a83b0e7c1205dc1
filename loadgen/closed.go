package loadgen

import (
	"container/heap"
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
// request.
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
		c := &httpConn{fd: -1, heapIdx: -1, p: respParser{noBody: o.Method == "HEAD"}}
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
	runLoops(ctx, loops)
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
	// due is when the next paced request should leave.
	due     time.Time
	heapIdx int
	// retry is when a connection that failed to open may try again.
	retry time.Time
	// wantWrite: the socket is registered for writability because a
	// write could not finish.
	wantWrite bool
	p         respParser
}

type closedLoop struct {
	epollLoop
	o     *Options
	req   []byte
	conns []*httpConn
	byFD  []*httpConn
	rbuf  []byte
	// waiting holds paced connections by due time.
	waiting dueHeap
	// interval is each connection's share of the paced schedule.
	interval time.Duration
	// quota is how many requests the loop may send (0: no limit); sent
	// and inFlight count what it has sent and what is unanswered.
	quota    int64
	sent     int64
	inFlight int
	nextScan time.Time
	// The causes of the loop's timeouts, made once: they name the limit.
	noAnswer, noConnect error
}

func newClosedLoop(o Options, rec *recorder, addr *net.TCPAddr, req []byte) (*closedLoop, error) {
	l := &closedLoop{
		o: &o, req: req, rbuf: make([]byte, 64<<10),
		noAnswer:  fmt.Errorf("no answer within %s %v", FlagName("timeout"), o.Timeout),
		noConnect: fmt.Errorf("no connection within %s %v", FlagName("timeout"), o.Timeout),
	}
	if err := l.init(rec, addr); err != nil {
		return nil, err
	}
	if o.Rate > 0 {
		l.interval = time.Duration(float64(o.Connections) / o.Rate * float64(time.Second))
	}
	return l, nil
}

func (l *closedLoop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if l.interval > 0 {
		// Wake-ups on a paced schedule must be on time to the
		// microsecond, not the default 50 µs of timer slack.
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	}
	now := time.Now()
	end := l.rec.c.windowEnd
	for _, c := range l.conns {
		l.next(c, now)
	}
	for !l.stopping {
		now = time.Now()
		l.rec.tick(now)
		if !now.Before(end) || (l.quota > 0 && l.sent >= l.quota && l.inFlight == 0) {
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
		evs, err := l.poller.WaitFor(l.events, max(wait, 0))
		if err != nil {
			// The poller itself failed: nothing more can be measured.
			break
		}
		l.events = evs
		now = time.Now()
		if !now.Before(end) {
			// Answers read from now on came after the window closed:
			// their requests are unfinished.
			break
		}
		for _, ev := range evs {
			if l.woken(ev) {
				continue
			}
			if c := l.conn(int(ev.FD)); c != nil {
				l.handle(c, ev.Events, now)
			}
		}
	}
	// The window has closed (or the attack was stopped): whatever is
	// still unanswered goes with its connection.
	now = time.Now()
	l.rec.abandoned(now, l.inFlight)
	for _, c := range l.conns {
		l.closeConn(c)
	}
	l.rec.finish(now)
}

// sendDue sends the paced requests whose time has come.
func (l *closedLoop) sendDue(now time.Time) {
	for len(l.waiting) > 0 && !l.waiting[0].due.After(now) {
		c := heap.Pop(&l.waiting).(*httpConn)
		l.rec.sent(now, c.due)
		l.send(c, now)
	}
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
			l.next(c, now)
		case c.state != connIdle && now.Sub(c.start) > l.o.Timeout:
			cause := l.noAnswer
			if c.state == connConnecting {
				cause = l.noConnect
			}
			l.failPending(c, now, failTimeout, cause)
			l.reopen(c, now)
		}
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
		if c.due.After(now) {
			c.state = connIdle
			heap.Push(&l.waiting, c)
			return
		}
	}
	l.send(c, now)
}

// send writes the next request batch, opening a connection first if the
// connection has none.
func (l *closedLoop) send(c *httpConn, now time.Time) {
	if l.quota > 0 && l.sent >= l.quota || !now.Before(l.rec.c.windowEnd) {
		c.state = connIdle
		return
	}
	l.sent += int64(l.o.Pipeline)
	l.inFlight += l.o.Pipeline
	c.pending = l.o.Pipeline
	c.start = now
	if l.interval > 0 {
		c.start = c.due
		c.due = c.due.Add(l.interval)
	}
	if c.fd < 0 {
		l.open(c)
		return
	}
	c.woff = 0
	c.state = connWriting
	l.write(c, now)
}

func (l *closedLoop) open(c *httpConn) {
	fd, err := l.dial(netpoll.Readable | netpoll.Writable)
	if err != nil {
		l.connectFailed(c, time.Now(), err)
		return
	}
	c.fd = fd
	c.state = connConnecting
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = c
}

// connectFailed counts a connection that could not be opened and retries
// it after a pause, so a server that refuses everything is not hammered by
// a loop spinning on connect.
func (l *closedLoop) connectFailed(c *httpConn, now time.Time, cause error) {
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
		c.woff = 0
		c.state = connWriting
		l.write(c, now)
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

func (l *closedLoop) write(c *httpConn, now time.Time) {
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
			l.failPending(c, now, failWrite, err)
			l.reopen(c, now)
			return
		}
		c.woff += n
	}
	if c.wantWrite && !l.watchWrites(c, false, now) {
		return
	}
	c.state = connReading
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
	n, err := netpoll.Read(c.fd, l.rbuf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		l.failPending(c, now, failRead, err)
		l.reopen(c, now)
		return
	case n == 0:
		if c.p.eof() {
			// The body ran to the close; answered replaces the
			// connection.
			l.answered(c, now)
			return
		}
		if c.pending > 0 {
			l.failPending(c, now, failRead, errClosedBeforeAnswer)
		}
		l.reopen(c, now)
		return
	}
	p := l.rbuf[:n]
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
			l.answered(c, now)
		}
	}
}

// answered records the response the parser just completed and moves the
// connection on.
func (l *closedLoop) answered(c *httpConn, now time.Time) {
	lat := now.Sub(c.start)
	if c.p.status == l.o.Status {
		l.rec.success(now, lat, c.p.status, c.p.size)
	} else {
		l.rec.badStatus(now, c.p.status, c.p.size)
	}
	c.pending--
	l.inFlight--
	serverCloses := c.p.close
	if c.pending > 0 {
		if serverCloses {
			l.failPending(c, now, failRead, errClosedWithPipelined)
			l.reopen(c, now)
		}
		return
	}
	if serverCloses || l.o.Close {
		l.dropConn(c)
	}
	l.next(c, now)
}

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
	if c.fd >= 0 {
		l.byFD[c.fd] = nil
		unix.Close(c.fd)
		c.fd = -1
	}
	c.p.eof()
	c.state = connIdle
	c.wantWrite = false
}

func (l *closedLoop) closeConn(c *httpConn) {
	if c.heapIdx >= 0 {
		heap.Remove(&l.waiting, c.heapIdx)
	}
	l.dropConn(c)
}

// The causes of failures that no system call reports.
var (
	errClosedBeforeAnswer  = errors.New("the server closed the connection before answering")
	errClosedWithPipelined = errors.New("the server closed the connection with pipelined requests unanswered")
	errUnasked             = errors.New("an answer to no request")
)

// dueHeap orders idle paced connections by when they are due.
type dueHeap []*httpConn

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *dueHeap) Push(x any) {
	c := x.(*httpConn)
	c.heapIdx = len(*h)
	*h = append(*h, c)
}
func (h *dueHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.heapIdx = -1
	return c
}
