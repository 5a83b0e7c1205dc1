// Package servertest runs sockbench's servers inside a test process, for
// the tests of the servers themselves and of the clients that drive them.
package servertest

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// Start runs model m on a free loopback port until the test ends. stop
// stops it earlier and returns its final counters; it may be called more
// than once.
func Start(t testing.TB, m servers.Model, opts servers.Options) (addr string, stop func() servers.Stats) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	srv, err := m.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	var once sync.Once
	stop = func() servers.Stats {
		once.Do(func() {
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("%s: Serve: %v", m.Name, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("%s did not stop within 5s of cancel", m.Name)
			}
		})
		return srv.Stats()
	}
	t.Cleanup(func() { stop() })
	return srv.Addr().String(), stop
}

// NoAllocs checks that n round trips of a request path (roundTrip, run
// after a warming run) allocate nothing: the total is counted, so an
// allocation every so many requests shows too. what names the case.
func NoAllocs(t testing.TB, what string, n int, roundTrip func()) {
	t.Helper()
	allocs := allocsWithinOneSecond(t, func() {
		for range n {
			roundTrip()
		}
	})
	if allocs != 0 {
		t.Errorf("%s: %v allocations in %d round trips, want none", what, allocs, n)
	}
}

// allocsWithinOneSecond counts the allocations of one run of f inside a
// single second of the clock. The Date header's stamp is formatted once
// a second, for the whole process (http1.Now), not per request; a count
// that straddles a second would include it, so such a count is taken
// again.
func allocsWithinOneSecond(t testing.TB, f func()) float64 {
	t.Helper()
	for range 20 {
		second := time.Now().Unix()
		allocs := testing.AllocsPerRun(1, f)
		if time.Now().Unix() == second {
			return allocs
		}
	}
	t.Fatal("no count of allocations fitted in one second in 20 tries")
	return 0
}

// Get sends one keep-alive request for the page on c and reads its
// answer, which must be a 200.
func Get(t testing.TB, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := Ask(c, br); err != nil {
		t.Fatal(err)
	}
}
