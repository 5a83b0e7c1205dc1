package eventloop

import (
	"time"

	"github.com/sockbench/sockbench/servers"
)

// deadlines holds the connections that wait under one timeout, in the
// order their deadlines fall. A connection joins at the tail, due the
// timeout after the loop's clock, and that clock only moves forward, so
// the list is sorted by construction: the loop looks at its head once per
// wake-up and lets the poller wait until the head is due. Moving a
// connection is a few pointer writes — no timer, no heap, no allocation —
// so a request pays nothing else for its timeouts.
type deadlines struct {
	timeout    int64 // nanoseconds
	head, tail *conn
}

// timer is a connection's place in a deadlines list.
type timer struct {
	list       *deadlines // nil: no deadline
	prev, next *conn
	due        int64 // on the loop's clock
}

func newDeadlines(d time.Duration) deadlines { return deadlines{timeout: int64(d)} }

// push puts c, which is in no list, at the tail, due now plus the timeout.
func (q *deadlines) push(c *conn, now int64) {
	c.timer = timer{list: q, prev: q.tail, due: now + q.timeout}
	if q.tail != nil {
		q.tail.timer.next = c
	} else {
		q.head = c
	}
	q.tail = c
}

// leave takes c out of its list, if it is in one.
func (c *conn) leave() {
	q := c.timer.list
	if q == nil {
		return
	}
	prev, next := c.timer.prev, c.timer.next
	if prev != nil {
		prev.timer.next = next
	} else {
		q.head = next
	}
	if next != nil {
		next.timer.prev = prev
	} else {
		q.tail = prev
	}
	c.timer = timer{}
}

// await puts c under q's timeout, counted from now.
func (l *loop) await(c *conn, q *deadlines) {
	c.leave()
	q.push(c, l.now)
}

// tick reads the loop's clock: nanoseconds since the loop was made. Once
// per wake-up is all the resolution its timeouts need.
func (l *loop) tick() { l.now = int64(time.Since(l.epoch)) }

// awaitRequest puts c, which now waits for input, under the timeout that
// applies: the idle timeout when no request is in progress, else the
// header timeout, from the first byte of the request. answered says a
// request was answered since c last waited: the bytes left over then
// begin a new request. A request still incomplete keeps its deadline, so
// a client sending its head a byte at a time cannot push it back.
func (l *loop) awaitRequest(c *conn, answered bool) {
	switch {
	case c.fd < 0 || l.stream:
	case c.proto.Idle(len(c.in)):
		l.await(c, &l.idle)
	case answered || c.timer.list != &l.header:
		l.await(c, &l.header)
	}
}

// pauseAccept stops watching the listener for the next backoff after a
// failed accept: a listener with a connection pending stays readable, so
// a loop that kept watching it would wake at once, fail again and spin.
func (l *loop) pauseAccept() error {
	l.acceptBackoff = servers.NextAcceptBackoff(l.acceptBackoff)
	l.acceptResume = l.now + int64(l.acceptBackoff)
	if !l.listening {
		return nil
	}
	return l.unwatchListener()
}

// expire closes the connections whose deadline has passed, watches the
// listener again once its pause is over, and returns how long the poller
// may wait for the next of these: in milliseconds, rounded up so the wait
// ends after the deadline and not just before it; -1 when nothing is due.
// A listener that cannot be watched again would leave the loop deaf to
// new connections, so that is an error.
func (l *loop) expire() (timeoutMs int, err error) {
	next := int64(-1)
	earliest := func(due int64) {
		if next < 0 || due < next {
			next = due
		}
	}
	for _, q := range [...]*deadlines{&l.header, &l.idle, &l.linger} {
		for q.head != nil && q.head.timer.due <= l.now {
			if q != &l.linger {
				l.stats.TimedOut++
			}
			l.close(q.head)
		}
		if q.head != nil {
			earliest(q.head.timer.due)
		}
	}
	if l.acceptResume != 0 {
		if l.acceptResume > l.now {
			earliest(l.acceptResume)
		} else {
			l.acceptResume = 0
			if err := l.watchListener(); err != nil {
				return 0, err
			}
		}
	}
	if next < 0 {
		return -1, nil
	}
	return int((next - l.now + int64(time.Millisecond) - 1) / int64(time.Millisecond)), nil
}
