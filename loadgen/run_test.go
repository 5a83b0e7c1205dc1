package loadgen

import (
	"context"
	"testing"
	"time"
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
