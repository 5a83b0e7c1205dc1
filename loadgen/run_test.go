package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// A server that never answers, a timeout far past the window: the attack
// still ends with its window, and the requests left waiting are unfinished,
// neither answers nor errors. At 1.5/s vegeta's pacer sleeps past the
// window's end towards its next hit, which the engine must not wait for.
func TestAttackEndsWithItsWindow(t *testing.T) {
	const (
		window = time.Second
		// How far past the window an attack may run: the loops' last
		// wake-up and the cancelled hits' return.
		slack = 200 * time.Millisecond
	)
	for _, tc := range []struct {
		name string
		o    Options
		// The requests left waiting when the window closed.
		minUnfinished, maxUnfinished int64
	}{
		// One request a connection.
		{"closed", Options{Connections: 4, Threads: 2}, 4, 4},
		{"closed paced", Options{Connections: 4, Threads: 1, Rate: 100}, 4, 4},
		// Hit k is due at (k+1)/rate: 19 or 20 of them inside the window,
		// as many as vegeta has workers and connections for, and more.
		{"open", Options{Mode: Open, Rate: 20, Connections: 4}, 19, 20},
		{"open slow pacer", Options{Mode: Open, Rate: 1.5, Connections: 4}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, neverAnswer)
			tc.o.URL, tc.o.Duration, tc.o.Timeout = s.url, window, 10*time.Second
			began := time.Now()
			r, err := Run(context.Background(), tc.o)
			took := time.Since(began)
			if err != nil {
				t.Fatal(err)
			}
			if took > window+slack {
				t.Errorf("a %v attack took %v", window, took)
			}
			if r.Unfinished < tc.minUnfinished || r.Unfinished > tc.maxUnfinished || r.Requests != 0 || r.Errors.Total() != 0 {
				t.Errorf("%d unfinished, %d answered, errors %+v: want %d to %d unfinished and nothing else", r.Unfinished, r.Requests, r.Errors, tc.minUnfinished, tc.maxUnfinished)
			}
			if r.Interrupted || r.Duration != window.Seconds() {
				t.Errorf("interrupted=%v, window %.3fs: the whole window was measured", r.Interrupted, r.Duration)
			}
		})
	}
}

// edgeLog records a window's edges as WatchWindow calls them.
type edgeLog struct {
	at     []time.Time
	opened chan struct{}
	closed chan struct{}
}

func newEdgeLog() *edgeLog {
	return &edgeLog{opened: make(chan struct{}), closed: make(chan struct{})}
}

func (e *edgeLog) hook(open bool) {
	e.at = append(e.at, time.Now())
	if open {
		close(e.opened)
	} else {
		close(e.closed)
	}
}

func TestWatchWindow(t *testing.T) {
	// Whole: opens at its start, closes at its end, in order.
	e := newEdgeLog()
	start := time.Now().Add(50 * time.Millisecond)
	ended := WatchWindow(e.hook, start, 100*time.Millisecond)
	<-e.closed
	ended()
	if len(e.at) != 2 || e.at[0].Before(start) || e.at[1].Before(start.Add(100*time.Millisecond)) {
		t.Errorf("edges at %v, want at %v and 100ms later or after", e.at, start)
	}
	// Ended before it opened: no edge.
	e = newEdgeLog()
	WatchWindow(e.hook, time.Now().Add(time.Hour), time.Hour)()
	if len(e.at) != 0 {
		t.Errorf("a window ended before its start had edges %v", e.at)
	}
	// Ended while open: it closes then, before ended returns.
	e = newEdgeLog()
	ended = WatchWindow(e.hook, time.Now(), time.Hour)
	<-e.opened
	ended()
	if len(e.at) != 2 {
		t.Errorf("a window ended early had %d edges, want its open and close", len(e.at))
	}
	WatchWindow(nil, time.Now(), time.Hour)()
}

// TestOnWindowIsTheResultsWindow: the edges come as the window the result
// reports opens and closes, after StartAt's wait and the warm-up, not a
// warm-up after Run was called.
func TestOnWindowIsTheResultsWindow(t *testing.T) {
	url, _ := startModel(t, "epoll", servers.Options{})
	e := newEdgeLog()
	r, err := Run(context.Background(), Options{URL: url, Connections: 1, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond,
		StartAt: time.Now().Add(300 * time.Millisecond), OnWindow: e.hook})
	if err != nil {
		t.Fatal(err)
	}
	open := r.Start.Add(time.Duration(r.Warmup * float64(time.Second)))
	end := open.Add(time.Duration(r.Duration * float64(time.Second)))
	if len(e.at) != 2 || e.at[0].Before(open) || e.at[1].Before(end) || e.at[1].Sub(e.at[0]) > 2*(end.Sub(open)) {
		t.Errorf("edges at %v, the result's window %v to %v", e.at, open, end)
	}
}
