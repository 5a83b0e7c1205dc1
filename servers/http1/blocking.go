package http1

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// Buffers are one connection's input and output buffers. The goroutine
// servers pool them, so a kept-alive connection allocates nothing per
// request and a new connection usually allocates nothing at all.
type Buffers struct {
	in  []byte
	out []byte
}

var bufferPool = sync.Pool{New: func() any {
	return &Buffers{in: make([]byte, 0, MaxHeadBytes), out: make([]byte, 0, 4096)}
}}

// GetBuffers takes a pair of buffers from the pool.
func GetBuffers() *Buffers { return bufferPool.Get().(*Buffers) }

// PutBuffers returns buffers to the pool.
func PutBuffers(b *Buffers) {
	b.in, b.out = b.in[:0], b.out[:0]
	bufferPool.Put(b)
}

// Traffic is what one connection moved.
type Traffic struct {
	BytesRead, BytesWritten uint64
}

// Timeouts are how long a connection may hold a server without sending
// a request (servers.Options.HeaderTimeout and IdleTimeout); zero means no
// limit.
type Timeouts struct {
	// Header bounds the time from a request's first byte (from accept,
	// for a connection's first request) to the end of its head.
	Header time.Duration
	// Idle bounds the wait of a kept-alive connection for its next request.
	Idle time.Duration
}

// TimeoutsOf are the timeouts opts sets.
func TimeoutsOf(opts servers.Options) Timeouts {
	return Timeouts{Header: opts.HeaderTimeout, Idle: opts.IdleTimeout}
}

// deadline is d from now, or no deadline for a zero d.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// ServeBlocking runs the HTTP/1.1 exchange on a blocking connection until
// the client goes away, a request asks to close, an error response ends it
// or a timeout of to passes (counted in c's Counters). It is the goroutine
// servers' version of the raw loops' read → Serve → write cycle, on the
// same Conn. It returns nil when the connection ended normally.
//
// The timeouts are read deadlines, set at most once per request: after an
// answer that leaves the connection idle, and when a request's first bytes
// arrive on an idle connection — never per read, so a client trickling a
// head byte by byte cannot push its deadline back.
func ServeBlocking(nc net.Conn, c *Conn, b *Buffers, t *Traffic, to Timeouts) error {
	// A worker pool hands one set of buffers from connection to connection:
	// what the previous client left unread must not be parsed as this
	// one's request.
	b.in, b.out = b.in[:0], b.out[:0]
	// The first request's head is due from accept on.
	idle := false
	nc.SetReadDeadline(deadline(to.Header))
	for {
		if len(b.in) == cap(b.in) {
			// Serve answers 431 before the buffer fills; a full buffer here
			// would make Read return 0 forever.
			return errors.New("http1: input buffer full without an answer")
		}
		n, err := nc.Read(b.in[len(b.in):cap(b.in)])
		if n > 0 {
			t.BytesRead += uint64(n)
			b.in = b.in[:len(b.in)+n]
			answered := c.counters.Requests
			done, werr := serveBuffered(nc, c, b, t)
			if werr != nil || done {
				return werr
			}
			switch {
			case c.Idle(len(b.in)):
				nc.SetReadDeadline(deadline(to.Idle))
				idle = true
			case idle || c.counters.Requests != answered:
				// The bytes left over begin a new request.
				nc.SetReadDeadline(deadline(to.Header))
				idle = false
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Closed without an answer, as nginx and net/http do.
				c.counters.TimedOut++
				return nil
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// serveBuffered answers every complete request in b.in, writing after each
// output budget's worth, and reports whether the connection is finished.
func serveBuffered(nc net.Conn, c *Conn, b *Buffers, t *Traffic) (bool, error) {
	for {
		consumed, out, closeAfter := c.Serve(b.in, b.out[:0])
		b.out = out
		if consumed > 0 {
			b.in = b.in[:copy(b.in, b.in[consumed:])]
		}
		if len(out) > 0 {
			n, err := nc.Write(out)
			t.BytesWritten += uint64(n)
			if err != nil {
				return true, err
			}
		}
		if closeAfter {
			if c.MustLinger(len(b.in)) {
				linger(nc, b, t)
			}
			return true, nil
		}
		if consumed == 0 || len(b.in) == 0 {
			return false, nil
		}
	}
}

// linger sends FIN after the answer, then drops what the client still
// sends, for at most LingerTime and LingerBytes.
func linger(nc net.Conn, b *Buffers, t *Traffic) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(LingerTime))
	buf := b.in[:cap(b.in)]
	for drained := 0; drained < LingerBytes; {
		n, err := nc.Read(buf)
		drained += n
		t.BytesRead += uint64(n)
		if err != nil {
			return
		}
	}
}

// Discard is the stream mode of the goroutine servers: read and drop
// everything, counting it (thread post #1's throughput test).
func Discard(nc net.Conn, b *Buffers, t *Traffic) error {
	buf := b.in[:cap(b.in)]
	for {
		n, err := nc.Read(buf)
		t.BytesRead += uint64(n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
	}
}
