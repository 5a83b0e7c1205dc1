// Package nethttp registers the baseline: the standard library's net/http
// server, configured only where the comparison needs it (the same header
// limit and listeners as every other model) and answering with the same
// page.
package nethttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
	"github.com/sockbench/sockbench/servers/netserver"
)

func init() {
	servers.Register(servers.Model{
		Name:    "nethttp",
		Summary: "the standard library's net/http, the baseline",
		Deviations: map[string]string{
			"oversized-request-line": "net/http answers 431 for any oversized head, its request line included; the baseline is measured as the standard library ships it",
		},
		New: New,
	})
}

type server struct {
	*netserver.Base
	page               *http1.Page
	stream             bool
	closeAfterResponse bool
	http               *http.Server
}

// connKey is the request context key of a connection's *trackedConn,
// with close_after_response.
type connKey struct{}

// New binds the listeners of a net/http server.
func New(opts servers.Options) (servers.Server, error) {
	page, err := http1.NewPage("sockbench-nethttp", opts)
	if err != nil {
		return nil, err
	}
	base, err := netserver.New("nethttp", opts)
	if err != nil {
		return nil, err
	}
	s := &server{Base: base, page: page, stream: opts.Stream}
	// The same nominal head limit as the other models (net/http allows
	// 4096 bytes of slack above it, then answers 431 like they do), and
	// the same timeouts: net/http counts ReadHeaderTimeout from a
	// request's first byte (from accept for the first), and closes a
	// kept-alive connection IdleTimeout after its last answer.
	s.http = &http.Server{
		Handler:           s,
		MaxHeaderBytes:    http1.MaxHeadBytes,
		ReadHeaderTimeout: opts.HeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
	}
	if opts.CloseAfterResponse {
		// net/http reports a connection idle once its answer is flushed.
		// Closing it then ends it after every answer unannounced, as the
		// other models do; SetKeepAlivesEnabled(false) would send
		// Connection: close, which wrk and sockbench attack take as a
		// normal end, so the comparison would not be like for like.
		s.closeAfterResponse = true
		s.http.ConnState = func(nc net.Conn, st http.ConnState) {
			if st == http.StateIdle {
				nc.Close()
			}
		}
		// A request pipelined behind the first is already in net/http's
		// buffer and still reaches ServeHTTP, which must not count it as
		// answered: the connection it would be written to is closed.
		s.http.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, nc)
		}
	}
	return s, nil
}

// Serve implements servers.Server. net/http runs its own accept loops over
// listeners that report each connection to the shared counters.
func (s *server) Serve(ctx context.Context) error {
	if s.stream {
		return s.Accept(ctx, func(nc net.Conn) {
			go func() {
				b := http1.GetBuffers()
				var t http1.Traffic
				http1.Discard(nc, b, &t)
				http1.PutBuffers(b)
				s.Done(nc, http1.Counters{}, t)
			}()
		})
	}
	conns := make(chan net.Conn)
	ln := &chanListener{conns: conns, addr: s.Addr(), done: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(ln) }()
	err := s.Accept(ctx, func(nc net.Conn) {
		select {
		case conns <- &trackedConn{Conn: nc, base: s.Base}:
		case <-ln.done:
			s.Done(nc, http1.Counters{}, http1.Traffic{})
		}
	})
	ln.Close()
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) && err == nil {
		err = serr
	}
	return err
}

// chanListener feeds net/http the connections netserver accepted, so
// accept counting, the knobs and prompt shutdown work as for the other
// goroutine servers.
type chanListener struct {
	conns <-chan net.Conn
	addr  net.Addr
	once  sync.Once
	done  chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// trackedConn reports to the base once, when net/http closes it.
type trackedConn struct {
	net.Conn
	base   *netserver.Base
	once   sync.Once
	closed atomic.Bool
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		c.base.Done(c.Conn, http1.Counters{}, http1.Traffic{})
	})
	return nil
}

var (
	connectionClose = []string{"close"}
	contentTypeHTML = []string{"text/html; charset=utf-8"}
	serverName      = []string{"sockbench-nethttp"}
	allowed         = []string{"GET, HEAD"}
)

// ServeHTTP answers like every other model: the page at /, 404 elsewhere,
// 405 for methods other than GET and HEAD.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closeAfterResponse {
		if tc, _ := r.Context().Value(connKey{}).(*trackedConn); tc != nil && tc.closed.Load() {
			return
		}
	}
	s.Requests.Add(1)
	h := w.Header()
	h["Server"] = serverName
	if len(r.TransferEncoding) > 0 {
		// net/http drops a Content-Length sent beside Transfer-Encoding
		// and keeps the connection, where RFC 9112 §6.1 says to close it
		// (a smuggling guard). Benchmarks send no bodies, so closing after
		// any chunked request costs the comparison nothing.
		h["Connection"] = connectionClose
	}
	switch {
	case r.URL.Path != "/":
		s.Errors.Add(1)
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		s.Errors.Add(1)
		h["Allow"] = allowed
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var ipBuf [48]byte
	var ip []byte
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ip = ap.Addr().Unmap().AppendTo(ipBuf[:0])
	}
	body, err := s.page.AppendBody(nil, ip)
	if err != nil {
		s.Errors.Add(1)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	h["Content-Type"] = contentTypeHTML
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
