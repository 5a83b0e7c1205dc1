package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// With no warm-up every write begins inside the window, so the bytes the
// engine reports are every byte it wrote, and the server must have read
// exactly as many.
func TestStreamBytesMatchTheServer(t *testing.T) {
	for _, model := range []string{"epoll", "gonet"} {
		t.Run(model, func(t *testing.T) {
			httpURL, stop := startModel(t, model, servers.Options{Stream: true})
			u, err := url.Parse(httpURL)
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, Options{URL: "tcp://" + u.Host, Mode: Stream, Connections: 4, Threads: 2, Duration: time.Second})
			waitUntilServerClosedAll(t, u.Port())
			st := stop()
			if r.Errors.Total() != 0 {
				t.Errorf("errors: %+v", r.Errors)
			}
			if r.BytesWritten == 0 || uint64(r.BytesWritten) != st.BytesRead {
				t.Errorf("generator wrote %d bytes, server read %d", r.BytesWritten, st.BytesRead)
			}
			var inSeries int64
			for _, s := range r.Series {
				inSeries += s.Bytes
			}
			if inSeries != r.BytesWritten || len(r.Series) != 1 {
				t.Errorf("series %+v holds %d bytes, the total is %d", r.Series, inSeries, r.BytesWritten)
			}
			if r.LatencyKind != NoLatency || r.Requests != 0 {
				t.Errorf("latency kind %q and %d requests: stream mode measures bytes only", r.LatencyKind, r.Requests)
			}
			t.Logf("%s: %.0f MB/s over %d connections, busiest loop %.2f", model, r.BytesPerS/1e6, 4, r.Client.Busiest)
		})
	}
}

// waitUntilServerClosedAll waits until the server has closed every
// connection to port. A sink closes only once it has read EOF, which
// comes after every byte sent, so then it has counted them all.
func waitUntilServerClosedAll(t *testing.T, port string) {
	t.Helper()
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", p)
	deadline := time.Now().Add(5 * time.Second)
	for {
		open, err := openServerSockets(local)
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d connections 5 s after the generator closed them", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openServerSockets counts the IPv4 TCP sockets bound to local (":PORT" in
// hex) that the server has not closed yet: half-open, established, or
// closed by the peer only (CLOSE_WAIT).
func openServerSockets(local string) (int, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasSuffix(fields[1], local) {
			continue
		}
		switch fields[3] {
		case "01", "03", "08": // ESTABLISHED, SYN_RECV, CLOSE_WAIT
			n++
		}
	}
	return n, sc.Err()
}

func TestStreamCountsErrorsByKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		// serve handles the listener after the reachability probe.
		serve func(ln net.Listener)
		kind  func(Errors) int64
	}{
		{"refused", func(ln net.Listener) { ln.Close() }, func(e Errors) int64 { return e.Connect }},
		{"reset", func(ln net.Listener) {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}, func(e Errors) int64 { return e.Write }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
				tc.serve(ln)
			}()
			r := run(t, Options{URL: "tcp://" + ln.Addr().String(), Mode: Stream, Connections: 2, Duration: 300 * time.Millisecond})
			// Not all: a connection that sat in the backlog when the
			// listener closed is reset mid-write, and a reset can beat
			// the client to the end of its handshake.
			if got := tc.kind(r.Errors); got == 0 || got < r.Errors.Total()*9/10 {
				t.Errorf("errors %+v: want nearly all of them, and some, of kind %s", r.Errors, tc.name)
			}
		})
	}
}

// A server that stops reading for two seconds of four: the kernel buffers
// fill, the writes stall without an error, and only the timeout tells.
// Each connection counts once, goes on, and writes again when the server
// reads again; the slowest second shows the stall the average hides.
func TestStreamCountsAServerThatStopsReading(t *testing.T) {
	const conns = 2
	addr, pause, resume := startPausingSink(t)
	r := run(t, Options{
		URL: "tcp://" + addr, Mode: Stream, Connections: conns, Threads: 1,
		Duration: 4 * time.Second, Timeout: 300 * time.Millisecond,
		// The sink stops reading once the first second is over and reads
		// again once the third is.
		Progress: func(s Second) {
			switch s.T {
			case 0:
				pause()
			case 2:
				resume()
			}
		},
	})
	if r.Errors.Timeout != conns || r.Errors.Total() != conns {
		t.Errorf("errors %+v: want one timeout for each of the %d stalled connections", r.Errors, conns)
	}
	if len(r.Series) != 4 {
		t.Fatalf("series %+v: want 4 seconds", r.Series)
	}
	if s := r.Slowest; s == nil || (s.T != 1 && s.T != 2) || s.BytesPerS > r.BytesPerS/100 {
		t.Errorf("slowest second %+v, average %.0f B/s: want second 1 or 2 near nothing", s, r.BytesPerS)
	}
	if first, last := r.Series[0].Bytes, r.Series[3].Bytes; last < first/10 {
		t.Errorf("%d bytes in the first second, %d in the last: the connections did not write again once the server read", first, last)
	}
}

// startPausingSink listens on loopback and reads and drops whatever its
// connections send, except between pause and resume.
func startPausingSink(t *testing.T) (addr string, pause, resume func()) {
	t.Helper()
	var (
		paused  atomic.Bool
		resumed = make(chan struct{})
		once    sync.Once
	)
	resume = func() { once.Do(func() { close(resumed); paused.Store(false) }) }
	ln := listen(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			if paused.Load() {
				<-resumed
			}
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	// Registered after listen's: runs before it, so that no reader waits
	// while the listener's cleanup waits for them.
	t.Cleanup(resume)
	return ln.Addr().String(), func() { paused.Store(true) }, resume
}

func TestStreamStopsWhenCancelled(t *testing.T) {
	httpURL, _ := startModel(t, "epoll", servers.Options{Stream: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seconds atomic.Int64
	began := time.Now()
	r, err := Run(ctx, Options{URL: httpURL, Mode: Stream, Connections: 2, Duration: time.Minute, Progress: func(Second) {
		if seconds.Add(1) == 1 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*time.Second || !r.Interrupted || r.BytesWritten == 0 {
		t.Errorf("took %v, interrupted=%v, %d bytes: want an interrupted result of about a second", took, r.Interrupted, r.BytesWritten)
	}
}

func TestStreamAndOpenNeedSomethingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, o := range []Options{
		{URL: "tcp://" + addr, Mode: Stream},
		{URL: "http://" + addr + "/", Mode: Open, Rate: 10},
		{URL: "tcp://127.0.0.1", Mode: Stream},
	} {
		o.Duration = time.Second
		_, err := Run(context.Background(), o)
		want := "nothing accepts connections at " + addr
		if u, _ := url.Parse(o.URL); u.Port() == "" {
			want = "needs a port"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %s: err = %v, want one saying %q", o.Mode, o.URL, err, want)
		}
	}
}
