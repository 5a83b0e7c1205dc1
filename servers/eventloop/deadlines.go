package eventloop

import (
	"time"
)

// awaitRequest puts c, which now waits for input, under the timeout that
// applies (deadline.Set.AwaitRequest); a closed connection and a stream
// sink wait under none.
func (l *loop) awaitRequest(c *conn, answered bool) {
	if c.fd < 0 || l.stream {
		return
	}
	l.timeouts.AwaitRequest(c, &c.proto, len(c.in), answered)
}

// pauseAccept stops watching the listener for the next backoff after a
// failed accept: a listener with a connection pending stays readable, so
// a loop that kept watching it would wake at once, fail again and spin.
func (l *loop) pauseAccept() error {
	l.timeouts.PauseAccept()
	if !l.listening {
		return nil
	}
	return l.unwatchListener()
}

// expire closes the connections whose deadline has passed and watches
// the listener again once its pause is over. A listener that cannot be
// watched again would leave the loop deaf to new connections, so that is
// an error.
func (l *loop) expire() error {
	for c, timedOut := l.timeouts.Expired(); c != nil; c, timedOut = l.timeouts.Expired() {
		if timedOut {
			l.stats.TimedOut++
		}
		l.close(c)
	}
	if l.timeouts.ResumeAccept() {
		return l.watchListener()
	}
	return nil
}

// waitMs is a wait in the poller's milliseconds, rounded up so the wait
// ends after the deadline and not just before it; -1 (forever) for none.
func waitMs(d time.Duration) int {
	if d < 0 {
		return -1
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}
