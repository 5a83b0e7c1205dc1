// Package workerpool registers the fasthttp-style server: accepted
// connections are handed to a pool of long-lived worker goroutines instead
// of a fresh goroutine each, the most recently idle worker first (its stack
// and caches are warm), with per-connection buffers from a pool and
// sockbench's allocation-free parser.
package workerpool

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
	"github.com/sockbench/sockbench/servers/netserver"
)

func init() {
	servers.Register(servers.Model{
		Name:    "workerpool",
		Summary: "fasthttp-style pool of worker goroutines, pooled buffers",
		New:     New,
	})
}

// idleTimeout is how long a worker waits for a connection before it
// exits, so a burst does not leave thousands of goroutines behind.
const idleTimeout = 10 * time.Second

type server struct {
	*netserver.Base
	page     *http1.Page
	stream   bool
	timeouts http1.Timeouts
	pool     pool
}

// New binds the listeners of a worker pool server.
func New(opts servers.Options) (servers.Server, error) {
	page, err := http1.NewPage("sockbench-workerpool", opts)
	if err != nil {
		return nil, err
	}
	base, err := netserver.New("workerpool", opts)
	if err != nil {
		return nil, err
	}
	s := &server{Base: base, page: page, stream: opts.Stream, timeouts: http1.TimeoutsOf(opts)}
	s.pool.max = opts.Workers
	s.pool.serve, s.pool.done = s.handle, s.Done
	return s, nil
}

// Serve implements servers.Server.
func (s *server) Serve(ctx context.Context) error {
	stopCleaner := make(chan struct{})
	go s.pool.cleanIdle(stopCleaner)
	err := s.Accept(ctx, func(nc net.Conn) {
		if !s.pool.dispatch(nc) {
			s.refuse(nc)
		}
	})
	close(stopCleaner)
	s.pool.stop()
	return err
}

// refuse answers a connection the pool has no worker for with 503 and
// closes it, as fasthttp does past its Concurrency: the client learns the
// server is full instead of meeting a reset it cannot tell from a crash.
// It runs in the accept goroutine; a fresh socket's send buffer takes the
// short answer at once, so the write does not block.
func (s *server) refuse(nc net.Conn) {
	s.Refused.Add(1)
	answer := s.page.AppendError(nil, 503)
	n, _ := nc.Write(answer)
	s.Done(nc, http1.Counters{}, http1.Traffic{BytesWritten: uint64(n)})
}

func (s *server) handle(nc net.Conn, b *http1.Buffers) (ctr http1.Counters, t http1.Traffic) {
	if s.stream {
		http1.Discard(nc, b, &t)
	} else {
		var c http1.Conn
		c.Reset(s.page, &ctr, netserver.ClientAddr(nc))
		http1.ServeBlocking(nc, &c, b, &t, s.timeouts)
	}
	return ctr, t
}

// pool keeps idle workers on a stack.
type pool struct {
	max   int
	serve func(net.Conn, *http1.Buffers) (http1.Counters, http1.Traffic)
	// done closes a served connection and records what it did.
	done func(net.Conn, http1.Counters, http1.Traffic)

	mu       sync.Mutex
	idle     []*worker // most recently used last
	running  int
	stopping bool
	wg       sync.WaitGroup
}

type worker struct {
	conns    chan net.Conn
	lastUsed time.Time
}

// dispatch hands nc to a worker; false when the pool is at its cap.
func (p *pool) dispatch(nc net.Conn) bool {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return false
	}
	var w *worker
	if n := len(p.idle); n > 0 {
		w, p.idle = p.idle[n-1], p.idle[:n-1]
	} else if p.running < p.max {
		p.running++
		w = &worker{conns: make(chan net.Conn, 1)}
		p.wg.Add(1)
		go p.work(w)
	}
	p.mu.Unlock()
	if w == nil {
		return false
	}
	w.conns <- nc
	return true
}

func (p *pool) work(w *worker) {
	defer p.wg.Done()
	b := http1.GetBuffers()
	defer http1.PutBuffers(b)
	for nc := range w.conns {
		ctr, t := p.serve(nc, b)
		// Free before the close: a client that sees its connection end
		// and connects again finds the worker free, not a full pool.
		more := p.release(w)
		p.done(nc, ctr, t)
		if !more {
			return
		}
	}
}

// release puts a worker back on the idle stack.
func (p *pool) release(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		p.running--
		return false
	}
	w.lastUsed = time.Now()
	p.idle = append(p.idle, w)
	return true
}

// cleanIdle retires workers idle for longer than idleTimeout; the oldest
// sit at the bottom of the stack.
func (p *pool) cleanIdle(stop <-chan struct{}) {
	tick := time.NewTicker(idleTimeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			p.mu.Lock()
			n := 0
			for n < len(p.idle) && now.Sub(p.idle[n].lastUsed) > idleTimeout {
				close(p.idle[n].conns)
				n++
			}
			p.idle = append(p.idle[:0], p.idle[n:]...)
			p.running -= n
			p.mu.Unlock()
		}
	}
}

// stop ends every idle worker and waits for all of them.
func (p *pool) stop() {
	p.mu.Lock()
	p.stopping = true
	for _, w := range p.idle {
		close(w.conns)
	}
	p.running -= len(p.idle)
	p.idle = nil
	p.mu.Unlock()
	p.wg.Wait()
}
