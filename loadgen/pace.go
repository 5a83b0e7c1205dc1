package loadgen

import (
	"time"

	"github.com/sockbench/sockbench/internal/netpoll"
)

// Pacing (Options.Rate in closed mode) is wrk2's constant-throughput model:
// every connection has a schedule of due times, interval apart, the loop's
// connections offset so that together they send at the rate, and each
// request's latency runs from when it was due, so a server stall shows in
// every request queued behind it (coordinated-omission correction).
//
// At low rates what pacing costs is wake-ups, not requests. On the virtual
// machines benchmarks run on, a sleep and a wake-up cost 15–30 µs of CPU
// (timer programming, the halt, the interrupt, the switch back), and so
// does the server's wake-up that the first write after its sleep causes;
// the write, the read and the parse of a request cost a few µs, the
// loopback's work for both ends included. Issue #11's profile, 5,000 req/s
// on 50 connections at 78 µs of CPU a request: 1.2 blocking epoll waits a
// request, each behind a try that found nothing; a quarter of the CPU in
// the runtime handing the thread's P to another thread during them and
// back (sysmon's nanosleep every 20 µs, futex wake-ups); a third in the
// writes, most of it waking the server for every request. Heap operations
// and clock reads were under 2%. wrk2 sleeps 0.13 times a request at that
// rate: its millisecond timer sends requests in clumps, each measured from
// its due time, so its latencies include up to a millisecond of its own
// lateness. Three things bring sockbench down to wrk2's wake-ups while its
// latencies stay exact to the microsecond:
//
//   - A wake-up sends every request due within the loop's window ahead
//     (paceWindow), the earliest on time and the others early. An early
//     request's latency runs from when it really left, so no latency is
//     shortened; a late one's from when it was due, so none is hidden.
//     Counts stay exact: a request due after the window never leaves,
//     however early it could. One timer, the poller's timeout, is set for
//     the earliest request due.
//   - Answers carry the kernel's time of arrival (SO_TIMESTAMPNS), so the
//     loop need not wake for them: it sleeps on a poller that watches only
//     its wake-up until the next request is due, then reads everything that
//     arrived meanwhile with the time each came. It still wakes for a
//     socket (prompt) while a connection's next request is due and waits
//     for its answer, or a connection is opening, or a write is stuck.
//   - The waits keep the thread's P (netpoll's WaitHeld), one system call
//     each, no try first; holdPs gives each loop a P of its own, so that
//     the rest of the program keeps the Ps it had.
//
// At 50,000 req/s the wake-ups are a few percent; nearly all that is left
// is the write and the read of every request, as it is for wrk2.

// paceWindow is how far ahead of its time a paced request may leave, sent
// by the wake-up that sends an earlier one. It sets how often a loop wakes
// (at most once per window) and how many requests leave together (the
// loop's rate × the window, a burst the server sees), and it is wrk2's
// timer tick. Measured (issue #11, 50 connections, one loop): at 5,000/s a
// window of 250 µs cost 1.4× wrk2's CPU per request, 500 µs 1.1×, 1 ms
// 0.9×; at 50,000/s all three cost the same, the write and read of every
// request being all that is left.
const paceWindow = time.Millisecond

// initPacing sets up a paced loop: its schedule's interval, its window,
// the timer poller and the stamped reads.
func (l *closedLoop) initPacing(o Options) error {
	l.interval = time.Duration(float64(o.Connections) / o.Rate * float64(time.Second))
	// A connection's next request never leaves before its previous
	// answer, so a window past its interval would let it run ahead.
	l.window = min(paceWindow, l.interval)
	if l.ur != nil {
		// A ring's wait ends with the completions it asked for; answers
		// are timed when reaped, as epoll's unstamped reads are.
		return nil
	}
	t, err := netpoll.NewEpoll(&l.sc)
	if err != nil {
		return err
	}
	l.timer = t
	l.timerEvents = make([]netpoll.Event, 0, 4)
	l.stamps = newStampReader(l.rbuf)
	return nil
}

// sendDue sends the paced requests due within the window from now. A
// connection still waiting for its answer becomes overdue: its request
// leaves once the answer is read.
func (l *closedLoop) sendDue(now time.Time) {
	horizon := now.Add(l.window)
	for len(l.waiting) > 0 && !l.waiting[0].due.After(horizon) {
		c := l.waiting.pop()
		if c.state == connIdle {
			l.send(c, now)
		} else {
			c.overdue = true
		}
		l.sync(c)
	}
}

// sendPaced is send's part for a paced request: its latency's origin, its
// lateness, and the connection's place in the schedule for the next one.
// The clock is read again because a wake-up that sends many requests takes
// a while over them. Lateness counts against the loop (Client.Behind)
// unless the connection held the request back (overdue).
func (l *closedLoop) sendPaced(c *httpConn) {
	at := time.Now()
	if !c.overdue {
		l.rec.sent(at, c.due)
	}
	c.start = c.due
	if at.Before(c.due) {
		// Early (sent with an earlier one): timed from when it left.
		c.start = at
	}
	c.due = c.due.Add(l.interval)
	c.overdue = false
	l.waiting.push(c)
}

// sync updates the loop's count of connections that need it to wake for
// their socket: one opening, one whose write is stuck, one overdue.
func (l *closedLoop) sync(c *httpConn) {
	want := c.overdue || c.state == connConnecting || c.wantWrite
	if want == c.prompt {
		return
	}
	c.prompt = want
	if want {
		l.prompt++
	} else {
		l.prompt--
	}
}

// dueHeap orders paced connections by when their next request is due:
// idle ones, and ones waiting for an answer before that time.
type dueHeap []*httpConn

func (h *dueHeap) push(c *httpConn) {
	c.heapIdx = len(*h)
	*h = append(*h, c)
	h.up(c.heapIdx)
}

func (h *dueHeap) pop() *httpConn {
	c := (*h)[0]
	h.remove(c)
	return c
}

func (h *dueHeap) remove(c *httpConn) {
	old := *h
	i, last := c.heapIdx, len(old)-1
	if i != last {
		old[i] = old[last]
		old[i].heapIdx = i
	}
	old[last] = nil
	*h = old[:last]
	c.heapIdx = -1
	if i < last {
		h.down(i)
		h.up(i)
	}
}

func (h dueHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].due.Before(h[parent].due) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h dueHeap) down(i int) {
	for {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].due.Before(h[least].due) {
			least = l
		}
		if r < len(h) && h[r].due.Before(h[least].due) {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}

func (h dueHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
