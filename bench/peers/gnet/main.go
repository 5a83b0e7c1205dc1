// Command gnet serves the sockbench page with panjf2000/gnet, the Go
// event-loop library sockbench's raw epoll server is measured against.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	procs := flag.Int("gomaxprocs", 1, "GOMAXPROCS for the server; above 1 gnet runs one event loop per CPU")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := func() { fmt.Printf("gnet listening on %s\n", *addr) }
	if err := run(ctx, *addr, ready); err != nil {
		fmt.Fprintln(os.Stderr, "gnet:", err)
		os.Exit(1)
	}
}

// server is the gnet event handler. With multicore off there is one event
// loop, so everything but the clock is touched by one goroutine.
type server struct {
	gnet.BuiltinEventEngine
	booted chan gnet.Engine
	clock  clock
}

// conn is the per-connection state: the buffer responses are built in, kept
// between wakeups so answering allocates nothing.
type conn struct{ out []byte }

// OnBoot hands the engine to run, which needs it to stop gnet on SIGTERM.
func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.booted <- eng
	return gnet.None
}

// OnOpen gives the connection its response buffer.
func (s *server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&conn{out: make([]byte, 0, 1024)})
	return nil, gnet.None
}

// OnTraffic answers every complete request buffered so far with one write;
// a partial head waits in gnet's buffer for the next wakeup.
func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	in, err := c.Peek(-1) // everything buffered, possibly several requests
	if err != nil {
		return gnet.Close
	}
	st := c.Context().(*conn)
	used, out, closeConn := respond(st.out[:0], in, s.clock.date())
	st.out = out
	// Only after a complete request: gnet's Discard(0) drops everything
	// buffered, which would lose the first part of a head split across reads.
	if used > 0 {
		if _, err := c.Discard(used); err != nil {
			return gnet.Close
		}
	}
	if len(out) > 0 {
		// gnet copies what the socket does not take at once, so the buffer
		// can be reused on the next wakeup.
		if _, err := c.Write(out); err != nil {
			return gnet.Close
		}
	}
	if closeConn {
		return gnet.Close
	}
	return gnet.None
}

// run serves on addr until ctx is cancelled; ready is called once the
// engine accepts connections.
func run(ctx context.Context, addr string, ready func()) error {
	s := &server{booted: make(chan gnet.Engine, 1)}
	runErr := make(chan error, 1)
	go func() {
		runErr <- gnet.Run(s, "tcp://"+addr,
			gnet.WithMulticore(runtime.GOMAXPROCS(0) > 1),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogLevel(logging.ErrorLevel),
		)
	}()
	var eng gnet.Engine
	select {
	case err := <-runErr:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case eng = <-s.booted:
	}
	ready()
	select {
	case err := <-runErr:
		if err != nil {
			return fmt.Errorf("serve on %s: %w", addr, err)
		}
		return nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Stop(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return <-runErr
}
