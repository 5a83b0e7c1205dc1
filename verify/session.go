package verify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// How much of the exchange a Result shows.
const (
	// maxShown is how many raw bytes of one sent segment or one unexpected
	// chunk are quoted.
	maxShown = 160
	// maxGot bounds Result.Got.
	maxGot = 400
)

// quietWindow is how long a case listens after a response to tell "still
// open, nothing more to say" from "closed" or "more bytes than the framing
// announced". A server that closes or sends stray bytes does so at once on
// loopback; the window only bounds how long the check waits for it.
const quietWindow = 100 * time.Millisecond

// longAgo is a deadline in the past: setting it makes every pending read and
// write on a connection return at once.
var longAgo = time.Unix(1, 0)

// session is one case's conversation with the target: the connection it is
// using, its deadline, and a record of what went out and what came back for
// the Result.
type session struct {
	ctx      context.Context
	t        target
	deadline time.Time

	conn   net.Conn
	br     *bufio.Reader
	stop   func() bool
	closed bool

	sent []segment
	got  []string
}

// segment is what was written to one connection, or after one pause.
type segment struct {
	prefix string
	data   []byte
	writes int
}

// dial opens a new connection, closing any previous one; the case deadline
// covers every connection it opens.
func (s *session) dial() error {
	s.hangUp()
	var c net.Conn
	select {
	case c = <-s.t.spare:
	default:
		d := net.Dialer{Deadline: s.deadline}
		var err error
		if c, err = d.DialContext(s.ctx, "tcp", s.t.addr); err != nil {
			s.note("connect failed")
			return fmt.Errorf("connect to %s: %w", s.t.addr, err)
		}
	}
	if err := c.SetDeadline(s.deadline); err != nil {
		c.Close()
		return fmt.Errorf("set deadline on %s: %w", s.t.addr, err)
	}
	// Cancelling the run must interrupt a case blocked in a read or write,
	// and moving the deadline is how a net.Conn is interrupted.
	s.stop = context.AfterFunc(s.ctx, func() { c.SetDeadline(longAgo) })
	s.conn, s.br, s.closed = c, bufio.NewReaderSize(c, 16<<10), false
	prefix := ""
	if len(s.sent) > 0 {
		prefix = "then on a new connection "
	}
	s.sent = append(s.sent, segment{prefix: prefix})
	return nil
}

// hangUp closes the current connection, if any.
func (s *session) hangUp() {
	if s.conn == nil {
		return
	}
	s.stop()
	s.conn.Close()
	s.conn, s.br = nil, nil
}

// send writes b in one write. A write error is returned, but the cases that
// expect a rejection read on regardless: a server may answer and close
// before it has read everything, and its answer is what counts.
func (s *session) send(b []byte) error {
	seg := &s.sent[len(s.sent)-1]
	seg.data = append(seg.data, b...)
	seg.writes++
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("write: %s", ioKind(err))
	}
	return nil
}

// sendParts writes each part separately with TCP_NODELAY set and a pause
// between them, so the parts leave as separate segments and a server reading
// as data arrives sees the request in pieces.
func (s *session) sendParts(parts [][]byte, pause time.Duration) error {
	if tc, ok := s.conn.(*net.TCPConn); ok {
		if err := tc.SetNoDelay(true); err != nil {
			return fmt.Errorf("set TCP_NODELAY: %w", err)
		}
	}
	for i, p := range parts {
		if i > 0 {
			if err := s.pause(pause); err != nil {
				return err
			}
		}
		if err := s.send(p); err != nil {
			return err
		}
	}
	return nil
}

// pause waits for d unless the run is cancelled first.
func (s *session) pause(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// markPause labels what is sent next as coming after a deliberate pause.
func (s *session) markPause(d time.Duration) {
	s.sent = append(s.sent, segment{prefix: "then after " + d.String() + " "})
}

// response reads the next response and records its status line, or what
// happened instead.
func (s *session) response() (*response, error) {
	r, interim, err := readResponse(s.br)
	s.got = append(s.got, interim...)
	if err != nil {
		var re *readError
		if errors.As(err, &re) {
			if re.statusLine != "" {
				s.note(re.statusLine)
			}
			if !re.partial && isGone(re.err) {
				s.closed = true
			}
		}
		s.note(err.Error())
		return nil, err
	}
	s.note(r.statusLine)
	if r.untilClose {
		s.closed = true
		s.note(kindClosed)
	}
	return r, nil
}

// expectClosed waits, up to the case deadline, for the server to close the
// connection, and fails on anything else: bytes beyond the response, or the
// connection still open when the deadline passes.
func (s *session) expectClosed(why string) error {
	if s.closed {
		return nil
	}
	var buf [maxShown]byte
	n, err := s.br.Read(buf[:])
	switch {
	case n > 0:
		s.note("unexpected bytes " + quoteTrunc(buf[:n], maxShown))
		return fmt.Errorf("%d unexpected bytes after the response, want the connection closed %s", n, why)
	case isGone(err):
		s.closed = true
		s.note(kindClosed)
		return nil
	case ioKind(err) == kindTimeout:
		s.note("still open at timeout")
		return fmt.Errorf("the server did not close the connection %s", why)
	default:
		s.note(ioKind(err))
		return fmt.Errorf("waiting for the close %s: %s", why, ioKind(err))
	}
}

// abandon half-closes the connection and waits, up to the case deadline,
// until the server closes it too, whatever it says meanwhile: then the
// server is done with it.
func (s *session) abandon() error {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return fmt.Errorf("half-close: %s", ioKind(err))
		}
	}
	s.note("half-closed")
	var buf [maxShown]byte
	for {
		_, err := s.br.Read(buf[:])
		switch {
		case err == nil:
		case isGone(err):
			s.note(kindClosed)
			s.hangUp()
			return nil
		case ioKind(err) == kindTimeout:
			s.note("still open at timeout")
			return errors.New("the server did not close a connection the client half-closed in the middle of a request")
		default:
			s.note(ioKind(err))
			return fmt.Errorf("waiting for the close: %s", ioKind(err))
		}
	}
}

// idleState is what follows a response on a connection.
type idleState int

const (
	idleOpen   idleState = iota // nothing arrived, the connection is open
	idleClosed                  // the server closed it
	idleBytes                   // bytes arrived that no request asked for
)

// idle listens for quietWindow (bounded by the deadline) after a response.
// It returns how many stray bytes arrived when the state is idleBytes.
func (s *session) idle() (idleState, int, error) {
	if s.closed {
		return idleClosed, 0, nil
	}
	until := time.Now().Add(quietWindow)
	if until.After(s.deadline) {
		until = s.deadline
	}
	if err := s.conn.SetReadDeadline(until); err != nil {
		return idleOpen, 0, fmt.Errorf("set read deadline: %w", err)
	}
	var buf [maxShown]byte
	n, err := s.br.Read(buf[:])
	restore := s.deadline
	if s.ctx.Err() != nil {
		// The run was cancelled while the short deadline was set; keep the
		// connection interrupted rather than reviving it.
		restore = longAgo
	}
	if err := s.conn.SetReadDeadline(restore); err != nil {
		return idleOpen, 0, fmt.Errorf("set read deadline: %w", err)
	}
	switch {
	case n > 0:
		s.note("unexpected bytes " + quoteTrunc(buf[:n], maxShown))
		return idleBytes, n, nil
	case err == nil, ioKind(err) == kindTimeout:
		if s.ctx.Err() != nil {
			return idleOpen, 0, s.ctx.Err()
		}
		return idleOpen, 0, nil
	case isGone(err):
		s.closed = true
		s.note(kindClosed)
		return idleClosed, 0, nil
	default:
		s.note(ioKind(err))
		return idleOpen, 0, fmt.Errorf("after the response: %s", ioKind(err))
	}
}

// note records one thing that came back.
func (s *session) note(what string) { s.got = append(s.got, what) }

// sentSummary quotes what was written, segment by segment.
func (s *session) sentSummary() string {
	var parts []string
	for _, seg := range s.sent {
		if seg.writes == 0 {
			continue
		}
		p := seg.prefix + quoteTrunc(seg.data, maxShown)
		if seg.writes > 1 {
			p += " in " + strconv.Itoa(seg.writes) + " writes"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// gotSummary lists what came back, in order.
func (s *session) gotSummary() string {
	g := strings.Join(s.got, ", then ")
	if len(g) > maxGot {
		g = g[:maxGot] + "…"
	}
	return g
}

// quoteTrunc quotes at most n bytes of b in Go syntax, so control bytes and
// line ends are visible, and says how much was left out.
func quoteTrunc(b []byte, n int) string {
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:n])) + fmt.Sprintf("…(%d bytes)", len(b))
}
