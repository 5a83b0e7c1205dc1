// Package eventloop is the raw event-loop server shared by the epoll, poll
// and select models: non-blocking sockets from golang.org/x/sys/unix, no net
// package on the hot path, one loop per OS thread, and the protocol in
// http1.Conn. The three models differ only in the netpoll.Poller they hand
// to this package, so a difference in their results is the poller's.
package eventloop

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/deadline"
	"github.com/sockbench/sockbench/servers/http1"
)

// Server runs one or more loops. With SO_REUSEPORT every loop owns a
// listener; otherwise all loops watch the one listener and race to accept.
type Server struct {
	name      string
	listeners []int
	addr      net.Addr
	loops     []*loop
	// stopping is what a loop looks at when its poller wakes it.
	stopping atomic.Bool
	stats    servers.Stats
	// probe, when a test sets it before Serve, receives a loop's syscall
	// counts each time the loop is woken without being stopped: the one
	// view of a running loop's counters that needs no lock on its path.
	probe func(netpoll.Syscalls)
}

// New binds the listeners and prepares the loops of a raw server whose
// poller is of the given kind.
func New(kind netpoll.Kind, name string, opts servers.Options) (*Server, error) {
	if opts.Rearm == servers.RearmOneshot && kind != netpoll.KindEpoll {
		// poll and select hand the whole interest set to the kernel on every
		// wait: there is no registration syscall to repeat.
		return nil, fmt.Errorf("rearm oneshot needs a poller with kernel-side registration (epoll), not %s", kind)
	}
	fds, err := servers.OpenListeners(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{name: name, listeners: fds}
	cleanup := func() {
		for _, l := range s.loops {
			l.poller.Close()
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	addr, err := servers.SockAddr(fds[0])
	if err != nil {
		cleanup()
		return nil, err
	}
	s.addr = addr
	page, err := http1.NewPage("sockbench-"+name, opts)
	if err != nil {
		cleanup()
		return nil, err
	}
	nloops := opts.Loops
	if opts.ReusePort {
		nloops = len(fds)
	}
	for i := 0; i < nloops; i++ {
		l := &loop{
			server:      s,
			listener:    fds[i%len(fds)],
			page:        page,
			stream:      opts.Stream,
			nodelay:     opts.NoDelayEnabled(),
			acceptBatch: opts.AcceptBatch,
			oneshot:     opts.Rearm == servers.RearmOneshot,
			timeouts:    deadline.NewSet(opts.HeaderTimeout, opts.IdleTimeout, func(c *conn) *deadline.Timer[conn] { return &c.timer }),
		}
		if opts.Stream {
			// Thread post #1's throughput test reads in large chunks.
			l.scratch = make([]byte, 64<<10)
		}
		if l.poller, err = netpoll.New(kind, &l.sys); err != nil {
			cleanup()
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.addr }

// Serve implements servers.Server. Cancellation wakes every loop through
// its poller, so loops stop at once, close their connections and return,
// and need no timeout to notice it.
func (s *Server) Serve(ctx context.Context) error {
	// A poller's Wake is safe even after its loop has ended and closed it.
	err := servers.RunLoops(ctx, len(s.loops), &s.stopping,
		func(i int) { s.loops[i].poller.Wake() },
		func(i int) error { return s.loops[i].run() })
	for _, fd := range s.listeners {
		unix.Close(fd)
	}
	s.stats = servers.Stats{Server: s.name}
	for _, l := range s.loops {
		l.poller.Close()
		st := l.stats
		st.Requests, st.Errors = l.counters.Requests, l.counters.Errors
		st.Syscalls = l.sys.Map()
		s.stats.Add(st)
	}
	return err
}

// Stats implements servers.Server.
func (s *Server) Stats() servers.Stats { return s.stats }

// warnFDSetSize tells the operator once that select refused connections,
// because the numbers of such a run are not comparable.
var warnFDSetSize sync.Once

func refusedWarning() {
	warnFDSetSize.Do(func() {
		fmt.Fprintf(os.Stderr, "select server: refusing connections whose descriptor is >= FD_SETSIZE (%d); use fewer connections or another model\n", netpoll.FDSetSize)
	})
}
