// Package uring registers the io_uring server: one ring per loop on a
// locked OS thread (internal/uring), driving the same http1.Conn as the
// readiness loops. Where they ask the kernel which sockets are ready and
// then read and write each, this loop hands the kernel the operations
// themselves — accept, receive, send, close — and collects their
// completions, all of an iteration's in one io_uring_enter: the way below
// the two syscalls per request a readiness server cannot go under
// (issue #14). Its knobs switch the io_uring features one by one.
package uring

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	"golang.org/x/sys/unix"

	iouring "github.com/sockbench/sockbench/internal/uring"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
)

func init() {
	servers.Register(servers.Model{
		Name:    "uring",
		Summary: "io_uring loop(s): multishot accept and receive into a provided buffer ring, fixed files, one io_uring_enter per iteration",
		New:     func(o servers.Options) (servers.Server, error) { return New(o) },
	})
}

// probe reports what the running kernel's io_uring offers; a test fakes
// an older kernel here.
var probe = iouring.Probe

// Server runs one or more loops. With SO_REUSEPORT every loop owns a
// listener; otherwise all loops accept on the one listener.
type Server struct {
	listeners []int
	addr      net.Addr
	loops     []*loop
	// stopping is what a loop looks at when its wake-up completes.
	stopping atomic.Bool
	stats    servers.Stats
}

// New binds the listeners, sets up a ring per loop and checks that the
// kernel has every feature the options ask for.
func New(opts servers.Options) (*Server, error) {
	fds, err := servers.OpenListeners(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{listeners: fds}
	fail := func(err error) (*Server, error) {
		for _, l := range s.loops {
			l.release()
		}
		servers.CloseFDs(fds)
		return nil, err
	}
	if s.addr, err = servers.SockAddr(fds[0]); err != nil {
		return fail(err)
	}
	if opts.NoDelayEnabled() {
		// Linux copies TCP_NODELAY from a listener to the sockets it
		// accepts, so setting it once here spares a setsockopt per
		// connection (TestAcceptedSocketsInheritNoDelay).
		for _, fd := range fds {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
				return fail(fmt.Errorf("TCP_NODELAY on the listener: %w", err))
			}
		}
	}
	page, err := http1.NewPage("sockbench-uring", opts)
	if err != nil {
		return fail(err)
	}
	cfg := configOf(opts)
	nloops := opts.Loops
	if opts.ReusePort {
		nloops = len(fds)
	}
	for i := range nloops {
		// The first ring asks the kernel what it has before anything is
		// registered with it.
		l, err := newLoop(s, fds[i%len(fds)], page, opts, cfg, i == 0)
		if err != nil {
			return fail(err)
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// config is what the knobs ask of a loop.
type config struct {
	multishotAccept, bufferRing, batch, fixedFiles, sqpoll bool
	// needPeer: the page shows the client's address.
	needPeer bool
}

func configOf(o servers.Options) config {
	on := func(b *bool) bool { return b == nil || *b }
	return config{
		multishotAccept: on(o.MultishotAccept),
		bufferRing:      on(o.BufferRing),
		batch:           on(o.SubmitBatch),
		fixedFiles:      on(o.FixedFiles),
		sqpoll:          o.SQPoll,
		needPeer:        o.Handler != servers.HandlerStatic,
	}
}

// check refuses, naming the knob to turn off, what the kernel lacks.
func (c config) check(k iouring.Kernel) error {
	needs := []struct {
		on   bool
		knob string
		f    iouring.Feature
	}{
		{true, "", iouring.Ops(iouring.OpAccept, iouring.OpRecv, iouring.OpSend, iouring.OpRead, iouring.OpClose, iouring.OpShutdown)},
		{true, "", iouring.CancelByFD},
		{c.multishotAccept, "multishot-accept", iouring.MultishotAccept},
		{c.bufferRing, "buffer-ring", iouring.BufferRings},
		{c.bufferRing, "buffer-ring", iouring.MultishotRecv},
		{c.fixedFiles, "fixed-files", iouring.Ops(iouring.OpFilesUpdate)},
	}
	for _, n := range needs {
		if !n.on {
			continue
		}
		if err := k.Check(n.f); err != nil {
			if n.knob == "" {
				return fmt.Errorf("%w; the uring model needs it, use another model (epoll)", err)
			}
			return fmt.Errorf("%w; run without it: --%s=false", err, n.knob)
		}
	}
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr { return s.addr }

// Serve implements servers.Server. Cancellation completes every loop's
// read of its wake-up, so loops stop at once, close their connections
// and return.
func (s *Server) Serve(ctx context.Context) error {
	err := servers.RunLoops(ctx, len(s.loops), &s.stopping,
		func(i int) { s.loops[i].wake.Wake() },
		func(i int) error { return s.loops[i].run() })
	servers.CloseFDs(s.listeners)
	s.stats = servers.Stats{Server: "uring"}
	for _, l := range s.loops {
		st := l.stats
		st.Requests, st.Errors = l.counters.Requests, l.counters.Errors
		st.Completions = l.ring.Stats.Completions
		st.Syscalls = map[string]uint64{servers.SyscallIOUringEnter: l.ring.Stats.Enters}
		for name, n := range map[string]uint64{"getpeername": l.getpeername, "close": l.closes} {
			if n > 0 {
				st.Syscalls[name] = n
			}
		}
		l.release()
		s.stats.Add(st)
	}
	return err
}

// Stats implements servers.Server.
func (s *Server) Stats() servers.Stats { return s.stats }
