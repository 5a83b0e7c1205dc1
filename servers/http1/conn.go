package http1

import (
	"net/netip"
	"time"
)

// Counters are what one loop (or one goroutine) has answered; the owner
// merges them into servers.Stats once, when it stops.
type Counters struct {
	Requests uint64
	// Errors counts responses with a 4xx or 5xx status.
	Errors uint64
	// TimedOut counts connections closed by a Timeouts limit.
	TimedOut uint64
}

// OutputBudget bounds the responses produced by one Serve call. Pipelined
// requests beyond it wait in the input buffer until the output is written,
// so a client pipelining thousands of requests cannot grow the output buffer
// without bound.
const OutputBudget = 64 << 10

// Conn is the protocol state of one connection, independent of how its
// bytes are read and written: the raw event loops and the goroutine servers
// drive the same Conn.
type Conn struct {
	page     *Page
	counters *Counters
	ipBuf    [48]byte
	ip       []byte
	// discard is how much of a request body is still to be skipped; bodies
	// are not used, but they must be consumed to find the next request.
	discard int64
	req     Request
	failed  bool
}

// Linger limits: after an error answer the client may still be sending
// (an oversized head, a body we will not read). Closing a socket with
// unread data makes the kernel send RST, and the client may lose the
// answer before reading it, so the servers read and drop what keeps coming
// for a while first, as net/http and nginx do.
const (
	LingerTime  = time.Second
	LingerBytes = 1 << 20
)

// Idle reports whether no request is in progress on the connection:
// none of one is among the unread bytes, and no body is still to come.
func (c *Conn) Idle(unread int) bool { return unread == 0 && c.discard == 0 }

// MustLinger reports whether closing now could cost the client its answer:
// an error response ended the connection, or input was left unread.
func (c *Conn) MustLinger(unread int) bool { return c.failed || unread > 0 }

// Reset prepares c for a new connection from client.
func (c *Conn) Reset(page *Page, counters *Counters, client netip.Addr) {
	c.page, c.counters, c.discard, c.failed = page, counters, 0, false
	c.ip = client.Unmap().AppendTo(c.ipBuf[:0])
}

// Serve consumes complete requests from in and appends their responses to
// out, in order. It returns how many bytes of in were used (the caller keeps
// the rest for the next call), the grown out, and whether the connection must
// be closed once out has been written: after Connection: close, HTTP/1.0
// without keep-alive, an error response, or any answer when the page says
// close_after_response. Nothing after a request that
// closes the connection is read.
func (c *Conn) Serve(in, out []byte) (consumed int, _ []byte, closeAfter bool) {
	for {
		if c.discard > 0 {
			k := int64(len(in) - consumed)
			if k > c.discard {
				k = c.discard
			}
			consumed += int(k)
			c.discard -= k
			if c.discard > 0 {
				return consumed, out, false
			}
		}
		if consumed == len(in) || len(out) >= OutputBudget {
			return consumed, out, false
		}
		n, status := ParseRequest(in[consumed:], &c.req)
		switch status {
		case StatusIncomplete:
			return consumed, out, false
		case StatusOK:
		default:
			c.counters.Requests++
			c.counters.Errors++
			c.failed = true
			return len(in), c.page.AppendError(out, status), true
		}
		consumed += n
		c.counters.Requests++
		c.discard = c.req.ContentLength
		out = c.respond(out, &c.req)
		if !c.req.KeepAlive || c.page.closeAfterResponse {
			return consumed, out, true
		}
	}
}

func (c *Conn) respond(out []byte, r *Request) []byte {
	get, head := string(r.Method) == "GET", string(r.Method) == "HEAD"
	switch {
	case !isRoot(r.Target):
		c.counters.Errors++
		return c.page.appendStatus(out, 404, r.KeepAlive, r.Minor)
	case !get && !head:
		c.counters.Errors++
		return c.page.appendStatus(out, 405, r.KeepAlive, r.Minor)
	}
	return c.page.AppendPage(out, c.ip, head, r.KeepAlive, r.Minor)
}

// isRoot reports whether a request target names "/", in origin form
// ("/", "/?q") or absolute form ("http://host/", RFC 9112 §3.2.2).
func isRoot(t []byte) bool {
	if len(t) > 7 && string(t[:7]) == "http://" {
		t = t[7:]
		i := 0
		for i < len(t) && t[i] != '/' && t[i] != '?' {
			i++
		}
		t = t[i:]
		if len(t) == 0 {
			return true
		}
	}
	return len(t) > 0 && t[0] == '/' && (len(t) == 1 || t[1] == '?')
}
