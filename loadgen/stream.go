package loadgen

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
)

func init() { engines[Stream] = runStream }

// The stream engine is the thread's first test (post #1): raw TCP, every
// connection writes ChunkSize bytes as fast as the kernel takes them to a
// server that reads and drops them, and bytes/s is the measure. Like the
// closed engine, each loop is a locked OS thread with its own epoll
// instance and non-blocking sockets, so a loop's busy fraction is its
// thread's CPU and nothing is shared on the hot path.
func runStream(ctx context.Context, o Options, target *url.URL, col *collector) error {
	tcpAddr, err := resolve(target.Host, o.Timeout)
	if err != nil {
		return err
	}
	// Every write sends the same bytes; the kernel only reads them, so
	// the loops share one chunk.
	chunk := make([]byte, o.ChunkSize)
	loops, err := newLoops(o.Threads, func() (*streamLoop, error) {
		l := &streamLoop{
			timeout: o.Timeout, chunk: chunk,
			noConnect:  fmt.Errorf("no connection within %s %v", FlagName("timeout"), o.Timeout),
			noProgress: fmt.Errorf("writes made no progress for %s %v: the server stopped reading", FlagName("timeout"), o.Timeout),
		}
		return l, l.init(col.recorder(), tcpAddr)
	})
	if err != nil {
		return err
	}
	for g := range o.Connections {
		l := loops[g%len(loops)]
		l.conns = append(l.conns, &streamConn{fd: -1})
	}
	runLoops(ctx, loops)
	return nil
}

// streamConn is one connection of a stream loop.
type streamConn struct {
	fd         int
	connecting bool
	// since is when the connection last made progress: its connect
	// began, or a write handed the kernel bytes; the timeout runs from
	// there. retry is when a connection whose open failed may try again.
	since, retry time.Time
	// stalled says the connection has gone a timeout without progress
	// and was counted for it; its next write that makes progress clears
	// it.
	stalled bool
}

// writesPerWake bounds the writes to one connection per wake-up: a server
// that drains as fast as the loop fills would otherwise keep the loop
// writing past the second's tick and the stop request, and starve the
// loop's other connections.
const writesPerWake = 64

type streamLoop struct {
	epollLoop
	timeout  time.Duration
	chunk    []byte
	conns    []*streamConn
	byFD     []*streamConn
	nextScan time.Time
	// The causes of the loop's timeouts, made once: they name the limit.
	noConnect, noProgress error
}

func (l *streamLoop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	end := l.rec.c.windowEnd
	now := time.Now()
	l.nextScan = end
	for _, c := range l.conns {
		l.open(c, now)
	}
	for !l.stopping {
		now = time.Now()
		l.rec.tick(now)
		if !now.Before(end) {
			break
		}
		if !now.Before(l.nextScan) {
			l.scan(now)
		}
		wait := min(l.rec.untilTick(now), end.Sub(now), l.nextScan.Sub(now))
		// Rounded up: waking a little late costs nothing, waking early
		// only another pass.
		evs, err := l.poller.Wait(l.events, int((max(wait, 0)+time.Millisecond-1)/time.Millisecond))
		if err != nil {
			// The poller itself failed: nothing more can be measured.
			break
		}
		l.events = evs
		for _, ev := range evs {
			if l.woken(ev) {
				continue
			}
			if int(ev.FD) < len(l.byFD) && l.byFD[ev.FD] != nil {
				l.handle(l.byFD[ev.FD], ev.Events, end)
			}
		}
	}
	for _, c := range l.conns {
		l.drop(c)
	}
	l.rec.finish(time.Now())
}

// scan opens the connections whose retry time has come, gives up on
// connects that outlasted the timeout and counts writes that stalled for
// as long; it is due again at the earliest of their next deadlines.
//
// A server that stops reading (frozen, or swamped) raises no error: the
// socket buffers fill and then the writes just wait, so without this
// deadline a stall shows only as a lower average. A stalled connection
// counts once as a timeout and is kept, not replaced: a new one would only
// fill fresh buffers, bytes the server has not read, and its writes resume
// when the server reads again.
func (l *streamLoop) scan(now time.Time) {
	l.nextScan = l.rec.c.windowEnd
	for _, c := range l.conns {
		switch {
		case c.fd < 0 && !now.Before(c.retry):
			l.open(c, now)
		case c.connecting && now.Sub(c.since) >= l.timeout:
			l.rec.fail(now, failTimeout, l.noConnect)
			l.drop(c)
			l.open(c, now)
		case c.fd >= 0 && !c.stalled && now.Sub(c.since) >= l.timeout:
			l.rec.fail(now, failTimeout, l.noProgress)
			c.stalled = true
		}
		switch {
		case c.fd < 0:
			l.nextScan = minTime(l.nextScan, c.retry)
		case !c.stalled:
			l.nextScan = minTime(l.nextScan, c.since.Add(l.timeout))
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (l *streamLoop) open(c *streamConn, now time.Time) {
	// Writability alone: a sink sends nothing, and a hang-up or reset is
	// reported as Failed whatever is watched.
	fd, err := l.dial(netpoll.Writable)
	if err != nil {
		l.connectFailed(c, now, err)
		return
	}
	c.fd, c.connecting, c.since, c.stalled = fd, true, now, false
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = c
	l.nextScan = minTime(l.nextScan, now.Add(l.timeout))
}

func (l *streamLoop) connectFailed(c *streamConn, now time.Time, cause error) {
	l.rec.fail(now, failConnect, cause)
	c.retry = now.Add(connectRetry)
	l.nextScan = minTime(l.nextScan, c.retry)
}

func (l *streamLoop) handle(c *streamConn, ev netpoll.Events, end time.Time) {
	if c.connecting {
		if ev&netpoll.Failed != 0 {
			if err := connectError(c.fd); err != nil {
				l.drop(c)
				l.connectFailed(c, time.Now(), err)
				return
			}
		}
		c.connecting = false
		c.since = time.Now()
	}
	for range writesPerWake {
		// Bytes count at the moment their write began, and no write
		// begins after the window closes, so the window's bytes are
		// exactly what its writes handed the kernel.
		start := time.Now()
		if !start.Before(end) {
			return
		}
		n, err := netpoll.Write(c.fd, l.chunk)
		switch err {
		case nil:
			l.rec.wrote(start, n)
			c.since = start
			if c.stalled {
				// Writing again; the scan watches it again.
				c.stalled = false
				l.nextScan = minTime(l.nextScan, start.Add(l.timeout))
			}
		case unix.EINTR:
		case unix.EAGAIN:
			return
		default:
			// The server closed or reset the connection.
			l.rec.fail(start, failWrite, err)
			l.drop(c)
			l.open(c, time.Now())
			return
		}
	}
}

func (l *streamLoop) drop(c *streamConn) {
	if c.fd >= 0 {
		l.byFD[c.fd] = nil
		unix.Close(c.fd)
		c.fd = -1
	}
	c.connecting = false
}
