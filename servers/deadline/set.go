package deadline

import (
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
)

// Set is one raw loop's timeouts: its coarse clock, the lists of its
// connections with a deadline — a request head due (Header), a
// kept-alive connection waiting for its next request (Idle), a lingering
// close (Linger) — and the pause of its accepts after a failed one. A
// connection whose answer waits for the client to read it has none, as
// with the goroutine servers' blocking writes.
type Set[T any] struct {
	Header, Idle, Linger List[T]
	// Now is the loop's clock: nanoseconds since the set was made, read
	// by Tick once per wake-up, all the resolution the timeouts need.
	Now   int64
	epoch time.Time
	// acceptResume is when a paused listener is due again (0: not
	// paused); acceptBackoff the pause, doubled by every failure in a row.
	acceptResume  int64
	acceptBackoff time.Duration
}

// NewSet makes the timeouts of a loop whose connections are T; timer
// finds a T's Timer.
func NewSet[T any](header, idle time.Duration, timer func(*T) *Timer[T]) Set[T] {
	return Set[T]{
		Header: NewList(header, timer),
		Idle:   NewList(idle, timer),
		Linger: NewList(http1.LingerTime, timer),
		epoch:  time.Now(),
	}
}

// Tick reads the clock.
func (s *Set[T]) Tick() { s.Now = int64(time.Since(s.epoch)) }

// AwaitRequest puts c, which now waits for input, under the timeout that
// applies: the idle timeout when no request is in progress (proto says
// so, with unread bytes buffered), else the header timeout, from the
// first byte of the request. answered says a request was answered since
// c last waited: the bytes left over then begin a new request. A request
// still incomplete keeps its deadline, so a client sending its head a
// byte at a time cannot push it back.
func (s *Set[T]) AwaitRequest(c *T, proto *http1.Conn, unread int, answered bool) {
	switch {
	case proto.Idle(unread):
		s.Idle.Move(c, s.Now)
	case answered || !s.Header.timer(c).In(&s.Header):
		s.Header.Move(c, s.Now)
	}
}

// Expired is a connection whose deadline has passed, and whether that
// was a timeout (not the end of a lingering close); nil when none is.
// The caller closes it, which must take it out of its list.
func (s *Set[T]) Expired() (c *T, timedOut bool) {
	if c := s.Header.Expired(s.Now); c != nil {
		return c, true
	}
	if c := s.Idle.Expired(s.Now); c != nil {
		return c, true
	}
	return s.Linger.Expired(s.Now), false
}

// PauseAccept starts the next backoff after a failed accept: a listener
// with a connection pending stays ready, so a loop that kept accepting
// would fail again at once and spin (issue #9).
func (s *Set[T]) PauseAccept() {
	s.acceptBackoff = servers.NextAcceptBackoff(s.acceptBackoff)
	s.acceptResume = s.Now + int64(s.acceptBackoff)
}

// AcceptSucceeded ends the run of failures the backoff doubles over.
func (s *Set[T]) AcceptSucceeded() { s.acceptBackoff = 0 }

// AcceptPaused reports whether accepting is paused.
func (s *Set[T]) AcceptPaused() bool { return s.acceptResume != 0 }

// ResumeAccept reports whether a pause has just ended: the caller
// accepts again.
func (s *Set[T]) ResumeAccept() bool {
	if s.acceptResume == 0 || s.acceptResume > s.Now {
		return false
	}
	s.acceptResume = 0
	return true
}

// Wait is how long the loop may wait for the next deadline or the end of
// the accept pause; negative when there is none.
func (s *Set[T]) Wait() time.Duration {
	next := int64(-1)
	earliest := func(at int64, ok bool) {
		if ok && (next < 0 || at < next) {
			next = at
		}
	}
	earliest(s.Header.Next())
	earliest(s.Idle.Next())
	earliest(s.Linger.Next())
	earliest(s.acceptResume, s.acceptResume != 0)
	if next < 0 {
		return -1
	}
	return time.Duration(max(next-s.Now, 0))
}
