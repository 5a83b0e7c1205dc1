package loadgen

import (
	"math"
	"net"
	"sync"
	"testing"
	"time"
)

func TestFairnessFigures(t *testing.T) {
	for _, tc := range []struct {
		name          string
		perConn       []int64
		jain, lo, hi  float64
		noFigureGiven bool
	}{
		{name: "even", perConn: []int64{250, 250, 250, 250}, jain: 1, lo: 1, hi: 1},
		{name: "one of two gets all", perConn: []int64{1000, 0}, jain: 0.5, lo: 0, hi: 2},
		// (10+30)² / (2·(100+900)) = 0.8
		{name: "one a third of the other", perConn: []int64{10, 30}, jain: 0.8, lo: 0.5, hi: 1.5},
		{name: "nothing answered", perConn: []int64{0, 0}, noFigureGiven: true},
		{name: "no connections", noFigureGiven: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFairness(tc.perConn)
			if tc.noFigureGiven {
				if f != nil {
					t.Fatalf("fairness %+v of no answers, want none", f)
				}
				return
			}
			if f == nil {
				t.Fatal("no fairness figures")
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !near(f.Jain, tc.jain) || !near(f.MinShare, tc.lo) || !near(f.MaxShare, tc.hi) || f.Connections != len(tc.perConn) {
				t.Errorf("got Jain %g, shares %g–%g over %d connections; want %g, %g–%g over %d", f.Jain, f.MinShare, f.MaxShare, f.Connections, tc.jain, tc.lo, tc.hi, len(tc.perConn))
			}
		})
	}
}

// Merged results get the index of all their connections, not the mean of
// their indexes: two generators, each even on its own, one with ten times
// the other's answers per connection, are unfair together.
func TestMergedFairnessIsOverEveryConnection(t *testing.T) {
	gen := func(perConn ...int64) *Result {
		return &Result{FormatVersion: FormatVersion, Mode: Closed, LatencyKind: ResponseTime, Requests: sum(perConn), Fairness: newFairness(perConn)}
	}
	a, b := gen(100, 100), gen(10, 10)
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := newFairness([]int64{100, 100, 10, 10})
	if m.Fairness == nil || m.Fairness.Jain != want.Jain || m.Fairness.Connections != 4 || m.Fairness.MinShare != want.MinShare {
		t.Fatalf("merged fairness %+v, want %+v", m.Fairness, want)
	}
	if a.Fairness.Jain != 1 || b.Fairness.Jain != 1 || m.Fairness.Jain > 0.7 {
		t.Errorf("Jain %g and %g alone, %g merged: the merge must see the difference", a.Fairness.Jain, b.Fairness.Jain, m.Fairness.Jain)
	}
	// A generator whose connections are unknown (a result from before
	// they were recorded) leaves the merge without an index.
	old := gen(50)
	old.Fairness = nil
	if m, err := Merge(a, old); err != nil || m.Fairness != nil {
		t.Errorf("merge with a generator of unknown connections: fairness %+v (%v), want none", m.Fairness, err)
	}
}

// A server that answers one connection late (post #18's pathological
// scheduler, the other way round) is unfair, and the figures say which
// way; an even one is fair.
func TestFairnessOfAnUnfairServer(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		var mu sync.Mutex
		var slow net.Conn
		unfair := newTestServer(t, func(n int64, c net.Conn) bool {
			mu.Lock()
			if slow == nil {
				slow = c
			}
			late := c == slow
			mu.Unlock()
			if late {
				time.Sleep(5 * time.Millisecond)
			}
			return answerOK(n, c)
		})
		r := run(t, Options{IO: ioMode, URL: unfair.url, Connections: 2, Threads: 1, Duration: 500 * time.Millisecond})
		f := r.Fairness
		if f == nil || f.Connections != 2 || sum(f.PerConnection) != r.Requests {
			t.Fatalf("fairness %+v of %d answers", f, r.Requests)
		}
		// The fast connection answers many times for each slow answer: the
		// index of two is near its floor of 1/2.
		if f.Jain > 0.7 || f.MinShare > 0.2 || f.MaxShare < 1.8 {
			t.Errorf("Jain %.3f, shares %.2f–%.2f: one connection was answered 5 ms late every time", f.Jain, f.MinShare, f.MaxShare)
		}

		// The even server's goroutines are scheduled as the machine
		// allows: beside other work under -race its connections' shares
		// spread to 0.85–1.14 (Jain 0.988), still far from the unfair
		// server's 0.2 and 1.8.
		even := newTestServer(t, answerOK)
		r = run(t, Options{IO: ioMode, URL: even.url, Connections: 4, Threads: 1, MaxRequests: 4000})
		if f := r.Fairness; f == nil || f.Jain < 0.95 || f.MinShare < 0.7 || f.MaxShare > 1.3 {
			t.Errorf("fairness %+v of an even server, want Jain near 1", f)
		}
	})
}
