package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	_ "github.com/sockbench/sockbench/servers/all"
	"github.com/sockbench/sockbench/servers/servertest"
)

// testServer is a tiny HTTP/1.1 server whose every answer the test
// decides: what to write, how long to wait, whether to hang up.
type testServer struct {
	url      string
	requests atomic.Int64
}

// reply handles request number n (from 1) on c; it returns false to close
// the connection.
type reply func(n int64, c net.Conn) bool

const okBody = "hello, load"

var okResponse = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(okBody), okBody)

func answerOK(_ int64, c net.Conn) bool {
	_, err := c.Write([]byte(okResponse))
	return err == nil
}

// neverAnswer reads a request and keeps its connection, unanswered, until
// the client closes it or the test ends.
func neverAnswer(_ int64, c net.Conn) bool {
	var b [1]byte
	c.Read(b[:])
	return false
}

func newTestServer(t *testing.T, handle reply) *testServer {
	t.Helper()
	return newTestServerOn(t, "127.0.0.1:0", handle)
}

// newTestServerOn is newTestServer listening at addr.
func newTestServerOn(t *testing.T, addr string, handle reply) *testServer {
	t.Helper()
	s := &testServer{}
	ln := listenOn(t, addr, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			if !handle(s.requests.Add(1), c) {
				return
			}
		}
	})
	s.url = "http://" + ln.Addr().String() + "/"
	return s
}

// listen accepts connections on loopback and hands each to serve, on a
// goroutine of its own, closing it when serve returns. When the test ends
// it closes the listener and every connection still open, and waits for
// serve to return on each.
func listen(t *testing.T, serve func(c net.Conn)) net.Listener {
	t.Helper()
	return listenOn(t, "127.0.0.1:0", serve)
}

// listenOn is listen at addr.
func listenOn(t *testing.T, addr string, serve func(c net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				serve(c)
			})
		}
	})
	return ln
}

// eachIO runs test once for each I/O of the closed-loop engine, as a
// subtest named after it, so that no I/O can skip a test silently.
func eachIO(t *testing.T, test func(t *testing.T, ioMode IO)) {
	for _, ioMode := range IOs {
		t.Run(string(ioMode), func(t *testing.T) { test(t, ioMode) })
	}
}

func run(t *testing.T, o Options) *Result {
	t.Helper()
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startModel runs one of sockbench's own servers in this process.
func startModel(t *testing.T, name string, opts servers.Options) (string, func() servers.Stats) {
	t.Helper()
	m, err := servers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := servertest.Start(t, m, opts)
	return "http://" + addr + "/", stop
}

// TestWarmupSpendsNoBudget: a request budget is of the measured window,
// as the result counts it, so a warm-up before it spends none (it spent
// all of it, and the window measured nothing).
func TestWarmupSpendsNoBudget(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		url, stop := startModel(t, "epoll", servers.Options{})
		defer stop()
		const n = 20000
		r := run(t, Options{IO: ioMode, URL: url, Connections: 4, Threads: 1, Warmup: 300 * time.Millisecond, MaxRequests: n})
		// Those in flight when the window opened end in it too.
		if done := r.Requests + r.Errors.Total(); done < n || done > n+4 || r.Interrupted || r.Duration <= 0 {
			t.Errorf("%d requests and %d errors in a window of %.3fs, interrupted %v; want the budget's %d", r.Requests, r.Errors.Total(), r.Duration, r.Interrupted, n)
		}
	})
}

func TestCountsMatchTheServerExactly(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		const n = 2400
		for _, tc := range []struct {
			name  string
			o     Options
			body  servers.Body
			conns uint64 // the server's count, the reachability probe included
		}{
			{"keep-alive", Options{IO: ioMode, Connections: 8, Threads: 2}, "", 8 + 1},
			{"close", Options{IO: ioMode, Connections: 8, Threads: 2, Close: true}, "", n + 1},
			{"pipeline", Options{IO: ioMode, Connections: 6, Threads: 2, Pipeline: 4}, "", 6 + 1},
			// 16 answers of ~3 KB: a batch spans many reads and buffers.
			{"pipeline, large", Options{IO: ioMode, Connections: 3, Threads: 1, Pipeline: 16}, servers.BodyLarge, 3 + 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				url, stop := startModel(t, "epoll", servers.Options{Body: tc.body})
				tc.o.URL = url
				tc.o.MaxRequests = n
				r := run(t, tc.o)
				st := stop()
				if r.Errors.Total() != 0 {
					t.Fatalf("errors: %+v", r.Errors)
				}
				if r.Requests != n || st.Requests != n {
					t.Errorf("generator counted %d requests, server %d, want %d each", r.Requests, st.Requests, n)
				}
				if r.Interrupted {
					t.Error("the request budget ended the attack, and the result says it was interrupted")
				}
				if st.Connections != tc.conns {
					t.Errorf("server accepted %d connections, want %d", st.Connections, tc.conns)
				}
				if want := int64(st.BytesWritten); r.BytesRead != want {
					t.Errorf("generator read %d bytes, server wrote %d", r.BytesRead, want)
				}
				if r.IO != ioMode && (r.IO != "" || ioMode != IOEpoll) {
					t.Errorf("the result says it ran on %q, want %q", r.IO, ioMode)
				}
				// One enter per loop iteration, with every connection's
				// sends in it and no completion for a send that went
				// well: no more than one per answer, and a few for the
				// loop's own wake-ups (a second's end, a timeout scan).
				// A send submitted on its own, or waited for, would make
				// two.
				if tc.name == "keep-alive" && ioMode == IOUring && (r.Client.RingEnters == 0 || r.Client.RingEnters > n+n/10+100) {
					t.Errorf("%d io_uring_enter calls for %d requests: want at most one per request", r.Client.RingEnters, n)
				}
				if ioMode == IOEpoll && r.Client.RingEnters != 0 {
					t.Errorf("%d io_uring_enter calls counted on epoll", r.Client.RingEnters)
				}
				if r.Latency.Recorded != n || r.Statuses[200] != n {
					t.Errorf("histogram holds %d latencies and %d 200s, want %d", r.Latency.Recorded, r.Statuses[200], n)
				}
			})
		}
	})
}

// A server that delays a known share of its answers: the histogram must
// put exactly those requests at or above the delay, and the percentiles
// on the right side of it.
func TestPercentilesOfAnInjectedDelay(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		const (
			total = 1000
			every = 20 // 5% of requests
			delay = 30 * time.Millisecond
		)
		var delayed atomic.Int64
		s := newTestServer(t, func(n int64, c net.Conn) bool {
			if n%every == 0 {
				delayed.Add(1)
				time.Sleep(delay)
			}
			return answerOK(n, c)
		})
		r := run(t, Options{IO: ioMode, URL: s.url, Connections: 4, Threads: 1, MaxRequests: total})
		h, err := r.Histogram()
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != total {
			t.Fatalf("histogram holds %d values, want %d", h.TotalCount(), total)
		}
		var atOrAbove int64
		for _, bar := range h.Distribution() {
			if bar.From >= delay.Microseconds() {
				atOrAbove += bar.Count
			}
		}
		d := delayed.Load()
		// Every delayed request is at or above the delay; an undelayed one
		// there would be a scheduling hiccup of the shared machine, allowed
		// for up to 1% of requests.
		if atOrAbove < d || atOrAbove > d+total/100 {
			t.Errorf("%d latencies at or above %v, want the %d delayed ones", atOrAbove, delay, d)
		}
		delayUS := float64(delay.Microseconds())
		if r.Latency.P99US < delayUS*0.999 || r.Latency.MaxUS < delayUS*0.999 {
			t.Errorf("p99 %.0fµs, max %.0fµs: with 5%% delayed by %v both must be at least that", r.Latency.P99US, r.Latency.MaxUS, delay)
		}
		if r.Latency.P75US >= delayUS/2 {
			t.Errorf("p75 %.0fµs: 95%% of requests were not delayed, p75 must be far below %v", r.Latency.P75US, delay)
		}
		if r.LatencyKind != ResponseTime {
			t.Errorf("latency kind %q, want %q", r.LatencyKind, ResponseTime)
		}
	})
}

// A server that stalls once for 300 ms: a closed loop waits with it and
// records only the few requests that were in flight, so its p99 hides the
// stall; paced at a rate, the requests due during the stall are measured
// from when they were due, and the stall shows.
func TestCoordinatedOmissionCorrectionShowsAStall(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		const stall = 300 * time.Millisecond
		stalling := func() reply {
			var mu sync.Mutex
			var until time.Time
			return func(n int64, c net.Conn) bool {
				mu.Lock()
				if n == 300 {
					until = time.Now().Add(stall)
				}
				wait := time.Until(until)
				mu.Unlock()
				if wait > 0 {
					time.Sleep(wait)
				}
				return answerOK(n, c)
			}
		}
		plain := run(t, Options{IO: ioMode, URL: newTestServer(t, stalling()).url, Connections: 4, Threads: 1, MaxRequests: 3000})
		paced := run(t, Options{IO: ioMode, URL: newTestServer(t, stalling()).url, Connections: 4, Threads: 1, Rate: 1000, Duration: 2 * time.Second})
		if plain.Latency.MaxUS < float64(stall.Microseconds())*0.9 {
			t.Fatalf("the plain run's max %.0fµs does not show the %v stall at all", plain.Latency.MaxUS, stall)
		}
		if plain.Latency.P99US >= float64(stall.Microseconds())/3 {
			t.Errorf("plain closed loop p99 %.0fµs: only the ~4 requests in flight should have seen the stall", plain.Latency.P99US)
		}
		if paced.LatencyKind != Corrected {
			t.Errorf("paced latency kind %q, want %q", paced.LatencyKind, Corrected)
		}
		// ~300 of ~2000 paced requests were due during the stall: p90 and
		// above must reflect it.
		if paced.Latency.P99US < float64(stall.Microseconds())/2 {
			t.Errorf("paced p99 %.0fµs hides the %v stall", paced.Latency.P99US, stall)
		}
		if paced.Requests < 1800 {
			t.Errorf("paced run answered %d requests, want the ~2000 its rate schedules", paced.Requests)
		}
	})
}

func TestErrorsAreCountedByKind(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		linger0 := func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) }
		for _, tc := range []struct {
			name  string
			reply reply
			o     Options
			kind  func(Errors) int64
		}{
			{"status", func(_ int64, c net.Conn) bool {
				c.Write([]byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"))
				return true
			}, Options{IO: ioMode, MaxRequests: 50}, func(e Errors) int64 { return e.Status }},
			{"malformed", func(_ int64, c net.Conn) bool {
				c.Write([]byte("SMTP ready\r\n\r\n"))
				return true
			}, Options{IO: ioMode, MaxRequests: 50}, func(e Errors) int64 { return e.Malformed }},
			{"reset", func(_ int64, c net.Conn) bool {
				linger0(c)
				return false
			}, Options{IO: ioMode, MaxRequests: 50}, func(e Errors) int64 { return e.Read }},
			{"short body", func(_ int64, c net.Conn) bool {
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
				return false
			}, Options{IO: ioMode, MaxRequests: 50}, func(e Errors) int64 { return e.Read }},
			{"timeout", neverAnswer, Options{IO: ioMode, Timeout: 100 * time.Millisecond, Duration: 600 * time.Millisecond}, func(e Errors) int64 { return e.Timeout }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestServer(t, tc.reply)
				tc.o.URL = s.url
				tc.o.Connections = 2
				r := run(t, tc.o)
				if got := tc.kind(r.Errors); got == 0 || got != r.Errors.Total() {
					t.Errorf("errors %+v: want all of them, and some, of kind %s", r.Errors, tc.name)
				}
				if r.Requests != 0 {
					t.Errorf("%d requests counted as answered; none was", r.Requests)
				}
			})
		}
	})
}

func TestConnectErrorsWhenTheServerGoesAway(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Accept only the reachability probe, then stop listening: every
		// connection the attack opens is refused.
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
			ln.Close()
		}()
		r := run(t, Options{IO: ioMode, URL: "http://" + ln.Addr().String() + "/", Connections: 2, Close: true, Duration: 300 * time.Millisecond})
		// Connections opened before the listener closed sat in its backlog
		// and are reset: read errors, at most one per connection.
		if r.Errors.Connect == 0 || r.Errors.Total()-r.Errors.Connect > 2 {
			t.Errorf("errors %+v: want connect errors, and only them once the listener is gone", r.Errors)
		}
	})
}

func TestNothingListeningIsAClearError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Run(context.Background(), Options{URL: "http://" + addr + "/", Duration: time.Second})
	if err == nil || !strings.Contains(err.Error(), "nothing accepts connections at "+addr) {
		t.Fatalf("err = %v, want one naming %s", err, addr)
	}
}

func TestCancelStopsAndKeepsWhatWasMeasured(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		s := newTestServer(t, answerOK)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var seconds atomic.Int64
		r, err := Run(ctx, Options{IO: ioMode, URL: s.url, Connections: 2, Duration: time.Minute, Progress: func(Second) {
			if seconds.Add(1) == 1 {
				cancel()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Interrupted || r.Requests == 0 || r.Duration >= 30 {
			t.Errorf("interrupted=%v requests=%d duration=%.1fs: want an interrupted result of about a second", r.Interrupted, r.Requests, r.Duration)
		}
		if len(r.Series) == 0 || r.Series[0].Requests == 0 {
			t.Errorf("series %+v: the measured second is missing", r.Series)
		}
	})
}

func TestSeriesAddUpToTheTotals(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		url, _ := startModel(t, "epoll", servers.Options{})
		r := run(t, Options{IO: ioMode, URL: url, Connections: 4, Threads: 2, Duration: 2 * time.Second, Warmup: 200 * time.Millisecond})
		if len(r.Series) != 2 {
			t.Fatalf("%d seconds in the series of a 2 s window, want 2: %v", len(r.Series), seriesTs(r.Series))
		}
		var req, bytes int64
		for i, s := range r.Series {
			if s.T != float64(i) {
				t.Errorf("second %d has t=%g", i, s.T)
			}
			req += s.Requests
			bytes += s.Bytes
		}
		if req != r.Requests || bytes != r.BytesRead {
			t.Errorf("series sum to %d requests and %d bytes, totals are %d and %d", req, bytes, r.Requests, r.BytesRead)
		}
		if r.Duration < 1.99 || r.Duration > 2.01 {
			t.Errorf("measured window %.3fs, want 2s", r.Duration)
		}
	})
}

func seriesTs(ss []Second) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("t=%g req=%d", s.T, s.Requests))
	}
	return out
}

// A port where something other than an HTTP server answers: its first
// bytes make every request a malformed response, at once, not a timeout,
// and the result says what came back.
func TestNonHTTPServersAreMalformedNotTimeouts(t *testing.T) {
	const sshBanner = "SSH-2.0-OpenSSH_9.2\r\n"
	for _, tc := range []struct {
		name, greeting string
		o              Options
		// The first error's cause is one of these.
		causes []string
	}{
		{"closed, ssh", sshBanner, Options{}, []string{`status line "SSH-2.0-OpenSSH_9.2": version is not HTTP/1.0 or HTTP/1.1`}},
		{"closed, garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", Options{}, []string{"version is not HTTP/1.0 or HTTP/1.1"}},
		{"closed on io_uring, ssh", sshBanner, Options{IO: IOUring}, []string{`status line "SSH-2.0-OpenSSH_9.2": version is not HTTP/1.0 or HTTP/1.1`}},
		// net/http reads a whole line before it judges one (garbage
		// with no line end waits for the timeout there), and fails a
		// request given a connection on which the banner came first.
		{"open, ssh", sshBanner, Options{Mode: Open, Rate: 100}, []string{`malformed HTTP response "SSH-2.0-OpenSSH_9.2"`, "the server sent bytes before any request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Like sshd: greet on accept, then read whatever comes
			// until the client hangs up.
			ln := listen(t, func(c net.Conn) {
				if _, err := c.Write([]byte(tc.greeting)); err != nil {
					return
				}
				io.Copy(io.Discard, c)
			})
			o := tc.o
			o.URL, o.Connections, o.Duration, o.Timeout = "http://"+ln.Addr().String()+"/", 2, 500*time.Millisecond, 10*time.Second
			r := run(t, o)
			if r.Errors.Malformed == 0 || r.Errors.Malformed != r.Errors.Total() || r.Requests != 0 {
				t.Errorf("errors %+v, %d answered: want malformed responses only", r.Errors, r.Requests)
			}
			if got := r.ErrorCauses["malformed"]; !slices.ContainsFunc(tc.causes, func(c string) bool { return strings.Contains(got, c) }) {
				t.Errorf("cause %q, want one of %q", got, tc.causes)
			}
			if err := r.Check(DefaultMaxErrors); err == nil || !strings.Contains(err.Error(), "is not an HTTP/1.1 server") {
				t.Errorf("check: %v, want the malformed responses named", err)
			}
		})
	}
}

// Bytes read are whole responses in every mode, as wrk counts them:
// vegeta's own count (BytesIn) is the body alone.
func TestBytesReadAreWholeResponses(t *testing.T) {
	for _, o := range []Options{
		{Connections: 2, MaxRequests: 200},
		{Connections: 2, Close: true, MaxRequests: 200},
		{Connections: 2, MaxRequests: 200, IO: IOUring},
		{Connections: 2, Close: true, MaxRequests: 200, IO: IOUring},
		{Mode: Open, Rate: 200, Connections: 2, Duration: 500 * time.Millisecond},
		{Mode: Open, Rate: 200, Connections: 2, Close: true, Duration: 500 * time.Millisecond},
	} {
		s := newTestServer(t, answerOK)
		o.URL = s.url
		r := run(t, o)
		// Whole responses: a multiple of the response's size, never the
		// body alone (vegeta's BytesIn). Open mode may count the bytes of
		// one answer more, taken as the window closed (5,000 bytes for 99
		// answers beside another make test).
		whole, extra := r.BytesRead/int64(len(okResponse)), int64(0)
		if o.Mode == Open {
			extra = 1
		}
		if r.Requests == 0 || r.BytesRead%int64(len(okResponse)) != 0 || whole < r.Requests || whole > r.Requests+extra {
			t.Errorf("%s io=%s close=%v: %d bytes read for %d answers of %d bytes each", o.Mode, o.IO, o.Close, r.BytesRead, r.Requests, len(okResponse))
		}
	}
}
