// Package netserver is the plumbing the servers built on Go's net package
// share: listeners that honour the backlog, SO_REUSEPORT and TCP_NODELAY
// knobs, accept loops, tracking of open connections so a stop is prompt,
// and the counters that go into servers.Stats.
package netserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
)

// Base holds what every goroutine server has: its listeners, its open
// connections and its counters. Counters are atomics, updated once per
// accept and once per finished connection, never per request.
type Base struct {
	name      string
	listeners []net.Listener
	nodelay   bool

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool
	// stopped is closed by Stop, and ends an accept loop's backoff.
	stopped chan struct{}
	wg      sync.WaitGroup

	Connections, Requests, Errors, AcceptCalls atomic.Uint64
	BytesRead, BytesWritten, Refused           atomic.Uint64
	AcceptErrors, TimedOut                     atomic.Uint64
}

// New opens the listeners opts asks for.
func New(name string, opts servers.Options) (*Base, error) {
	fds, err := servers.OpenListeners(opts)
	if err != nil {
		return nil, err
	}
	b := &Base{name: name, nodelay: opts.NoDelayEnabled(), conns: map[net.Conn]struct{}{}, stopped: make(chan struct{})}
	for i, fd := range fds {
		ln, err := servers.FileListener(fd)
		if err != nil {
			for _, l := range b.listeners {
				l.Close()
			}
			servers.CloseFDs(fds[i:])
			return nil, err
		}
		b.listeners = append(b.listeners, ln)
	}
	return b, nil
}

// Listeners are the bound listeners.
func (b *Base) Listeners() []net.Listener { return b.listeners }

// Addr is the first listener's address.
func (b *Base) Addr() net.Addr { return b.listeners[0].Addr() }

// Accept runs an accept loop on every listener, handing each connection to
// handle in the accept goroutine (handle starts whatever goroutine it
// wants), until ctx is done; then it closes the listeners and every open
// connection and returns.
func (b *Base) Accept(ctx context.Context, handle func(net.Conn)) error {
	errs := make(chan error, len(b.listeners))
	for _, ln := range b.listeners {
		go func() { errs <- b.acceptLoop(ln, handle) }()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
	}
	b.Stop()
	for range len(b.listeners) - boolToInt(first != nil) {
		<-errs
	}
	return first
}

func boolToInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (b *Base) acceptLoop(ln net.Listener, handle func(net.Conn)) error {
	var backoff time.Duration
	for {
		b.AcceptCalls.Add(1)
		nc, err := ln.Accept()
		if err != nil {
			if b.isStopping() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors or memory, or anything else: count it,
			// wait and try again, serving the open connections meanwhile.
			b.AcceptErrors.Add(1)
			backoff = servers.NextAcceptBackoff(backoff)
			select {
			case <-time.After(backoff):
			case <-b.stopped:
				return nil
			}
			continue
		}
		backoff = 0
		b.Connections.Add(1)
		if !b.nodelay {
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetNoDelay(false)
			}
		}
		if !b.track(nc) {
			nc.Close()
			return nil
		}
		handle(nc)
	}
}

func (b *Base) isStopping() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopping
}

// track registers an open connection; it refuses once the server stops.
func (b *Base) track(nc net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return false
	}
	b.conns[nc] = struct{}{}
	b.wg.Add(1)
	return true
}

// Done closes a connection handed out by Accept and records what it did.
func (b *Base) Done(nc net.Conn, ctr http1.Counters, t http1.Traffic) {
	nc.Close()
	b.Requests.Add(ctr.Requests)
	b.Errors.Add(ctr.Errors)
	b.TimedOut.Add(ctr.TimedOut)
	b.BytesRead.Add(t.BytesRead)
	b.BytesWritten.Add(t.BytesWritten)
	b.mu.Lock()
	delete(b.conns, nc)
	b.mu.Unlock()
	b.wg.Done()
}

// Stop closes the listeners and every open connection, then waits until
// each connection's handler has called Done.
func (b *Base) Stop() {
	b.mu.Lock()
	already := b.stopping
	b.stopping = true
	for nc := range b.conns {
		nc.Close()
	}
	b.mu.Unlock()
	if !already {
		close(b.stopped)
		for _, ln := range b.listeners {
			ln.Close()
		}
	}
	b.wg.Wait()
}

// Stats are the counters as servers.Stats.
func (b *Base) Stats() servers.Stats {
	s := servers.Stats{
		Server:       b.name,
		Connections:  b.Connections.Load(),
		Requests:     b.Requests.Load(),
		Errors:       b.Errors.Load(),
		AcceptCalls:  b.AcceptCalls.Load(),
		Refused:      b.Refused.Load(),
		AcceptErrors: b.AcceptErrors.Load(),
		TimedOut:     b.TimedOut.Load(),
		BytesRead:    b.BytesRead.Load(),
		BytesWritten: b.BytesWritten.Load(),
	}
	s.Add(servers.Stats{})
	return s
}

// ClientAddr is the connection's remote IP, without allocating.
func ClientAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr()
	}
	return netip.Addr{}
}
