package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// 500/s is a rate this machine sustains even under the race detector and
// beside other engineers' work.
func TestOpenHoldsTheRate(t *testing.T) {
	const rate = 500
	s := newTestServer(t, answerOK)
	r := run(t, Options{URL: s.url, Mode: Open, Rate: rate, Duration: 3 * time.Second})
	if r.Errors.Total() != 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if got := r.RequestsPerS; math.Abs(got-rate) > rate/100 {
		t.Errorf("%d requests in %.3fs = %.1f/s, want %d/s within 1%%", r.Requests, r.Duration, got, rate)
	}
	if r.LatencyKind != ResponseTime || r.Pacer != PacerConstant {
		t.Errorf("latency kind %q, pacer %q: want %q latencies from a %q pacer", r.LatencyKind, r.Pacer, ResponseTime, PacerConstant)
	}
	t.Logf("%.1f requests/s, %.3f%% late, busy %.3f, p99 %.0fµs", r.RequestsPerS, 100*r.Client.Behind, r.Client.Busiest, r.Latency.P99US)
}

// A generator starved of CPU leaves its hits late, and its result says so:
// on one P shared with a goroutine that spins through the window, vegeta's
// pacer runs only when the runtime preempts the spinner, every 10 ms.
func TestOpenFlagsAGeneratorThatFallsBehind(t *testing.T) {
	const window = 500 * time.Millisecond
	s := newTestServer(t, answerOK)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	spun := make(chan struct{})
	until := time.Now().Add(window)
	go func() {
		defer close(spun)
		for time.Now().Before(until) {
		}
	}()
	r := run(t, Options{URL: s.url, Mode: Open, Rate: 1000, Duration: window})
	<-spun
	// Saturation reads more than 1% late; the starved pacer is late far
	// more often (19.7% to over 20% here), a quiet one never.
	if r.Client.Behind < 0.1 || !r.Saturated {
		t.Errorf("%.1f%% of hits late, saturated=%v: a starved pacer must show", 100*r.Client.Behind, r.Saturated)
	}
}

// Each second holds the integral of the pacer's rate over it: a linear ramp
// from 200/s to 1000/s over three seconds sends 333, 600 and 867; a sine of
// 500±400/s with a 2 s period sends 500+800/π in its rising half and
// 500-800/π in its falling one. The shape is checked on the pacer itself,
// hit by hit as vegeta's attacker asks it, so that a busy machine's late
// answers cannot move a request into the next second; the attack then
// has to send every hit of it.
func TestOpenPacersShapeTheRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []float64
	}{
		{"linear", Options{Pacer: PacerLinear, Rate: 200, RateTo: 1000, Duration: 3 * time.Second}, []float64{
			200 + 800.0/3*0.5, 200 + 800.0/3*1.5, 200 + 800.0/3*2.5,
		}},
		{"sine", Options{Pacer: PacerSine, Rate: 500, Amplitude: 400, Period: 2 * time.Second, Duration: 2 * time.Second}, []float64{
			500 + 800/math.Pi, 500 - 800/math.Pi,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := openPacer(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			total := 0.0
			for i, n := range hitsPerSecond(p, tc.o.Warmup, len(tc.want)) {
				if want := tc.want[i]; math.Abs(float64(n)-want) > want*0.01 {
					t.Errorf("second %d: the pacer asks for %d hits, want %.0f within 1%%", i, n, want)
				}
				total += tc.want[i]
			}
			s := newTestServer(t, answerOK)
			tc.o.URL, tc.o.Mode = s.url, Open
			r := run(t, tc.o)
			if len(r.Series) != len(tc.want) {
				t.Fatalf("series %v: want %d seconds", seriesTs(r.Series), len(tc.want))
			}
			if got := float64(r.Requests + r.Unfinished); math.Abs(got-total) > total*0.03 {
				t.Errorf("%d requests and %d unfinished in the window, want %.0f within 3%%", r.Requests, r.Unfinished, total)
			}
			// The seconds rise and fall as the pacer's do (hundreds of
			// requests apart, more than late answers can move), so an
			// attack pacing the mean rate instead does not pass.
			for i := 1; i < len(tc.want); i++ {
				if (tc.want[i] > tc.want[i-1]) != (r.Series[i].Requests > r.Series[i-1].Requests) {
					t.Errorf("seconds %d and %d: %d then %d requests, want them ordered as %.0f then %.0f", i-1, i, r.Series[i-1].Requests, r.Series[i].Requests, tc.want[i-1], tc.want[i])
				}
			}
		})
	}
}

// hitsPerSecond counts the hits p asks for in each of the n seconds after
// warmup, sent when due.
func hitsPerSecond(p vegeta.Pacer, warmup time.Duration, n int) []int {
	counts := make([]int, n)
	end := warmup + time.Duration(n)*time.Second
	var hits uint64
	for elapsed := time.Duration(0); elapsed < end; {
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			break
		}
		if wait > 0 {
			elapsed += wait
			continue
		}
		if elapsed >= warmup {
			counts[(elapsed-warmup)/time.Second]++
		}
		hits++
	}
	return counts
}

// Every hit that ended before the window closed goes into the vegeta file;
// those in flight then are cancelled and left out, and they are all the
// server may have read besides.
func TestOpenWritesVegetaResults(t *testing.T) {
	s := newTestServer(t, answerOK)
	var out bytes.Buffer
	r := run(t, Options{URL: s.url, Mode: Open, Rate: 500, Duration: time.Second, VegetaResults: &out})
	dec := vegeta.NewDecoder(&out)
	var n, ok int64
	for {
		var res vegeta.Result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("result %d does not decode: %v", n+1, err)
		}
		n++
		if res.Code == 200 && res.Error == "" && string(res.Body) == okBody {
			ok++
		}
	}
	if served := s.requests.Load(); served < n || served > n+r.Unfinished || ok != n {
		t.Errorf("file holds %d results, %d of them 200 with the body, and %d were unfinished; the server read %d requests", n, ok, r.Unfinished, served)
	}
	if n < r.Requests || r.Requests < 450 {
		t.Errorf("file holds %d results, the window %d requests: want about 500 in both", n, r.Requests)
	}
}

func TestOpenErrorsAreCountedByKind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		kind  func(Errors) int64
	}{
		{"status", func(_ int64, c net.Conn) bool {
			c.Write([]byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"))
			return true
		}, func(e Errors) int64 { return e.Status }},
		{"malformed", func(_ int64, c net.Conn) bool {
			c.Write([]byte("SMTP ready\r\n\r\n"))
			return true
		}, func(e Errors) int64 { return e.Malformed }},
		{"reset", func(_ int64, c net.Conn) bool {
			c.(*net.TCPConn).SetLinger(0)
			return false
		}, func(e Errors) int64 { return e.Read }},
		{"short body", func(_ int64, c net.Conn) bool {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
			return false
		}, func(e Errors) int64 { return e.Read }},
		{"timeout", neverAnswer, func(e Errors) int64 { return e.Timeout }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.reply)
			r := run(t, Options{URL: s.url, Mode: Open, Rate: 100, Connections: 2, Timeout: 100 * time.Millisecond, Duration: 600 * time.Millisecond})
			if got := tc.kind(r.Errors); got < 40 || got != r.Errors.Total() {
				t.Errorf("errors %+v: want all of them, about 50, of kind %s", r.Errors, tc.name)
			}
			if r.Requests != 0 {
				t.Errorf("%d requests counted as answered; none was", r.Requests)
			}
		})
	}
}

func TestOpenHitErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want failureKind
	}{
		{`Get "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: connect: connection refused`, failConnect},
		{`Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: i/o timeout (Client.Timeout exceeded while awaiting headers)`, failTimeout},
		{`Get "http://127.0.0.1:80/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, failTimeout},
		{`Get "http://127.0.0.1:80/": net/http: HTTP/1.x transport connection broken: malformed HTTP response "SMTP ready"`, failMalformed},
		{`Get "http://127.0.0.1:80/": write tcp 127.0.0.1:5->127.0.0.1:80: write: broken pipe`, failWrite},
		{`Get "http://127.0.0.1:80/": read tcp 127.0.0.1:5->127.0.0.1:80: read: connection reset by peer`, failRead},
		{`Get "http://127.0.0.1:80/": readLoopPeekFailLocked: %!w(<nil>)`, failMalformed},
		{`Get "http://127.0.0.1:80/": EOF`, failRead},
		{`unexpected EOF`, failRead},
	} {
		var e Errors
		*e.counter(hitFailureKind(tc.msg))++
		var want Errors
		*want.counter(tc.want)++
		if e != want {
			t.Errorf("%q counted as %+v, want %+v", tc.msg, e, want)
		}
	}
}

// The schedule finds each hit's due time from the pacer alone: for a
// constant pacer hit k is due at (k+1)/rate, for a linear one when the
// ramp's integral reaches k+1.
func TestOpenScheduleFindsDueTimes(t *testing.T) {
	began := time.Now()
	constant, err := openPacer(Options{Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	linear, err := openPacer(Options{Pacer: PacerLinear, Rate: 100, RateTo: 2100, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		pacer vegeta.Pacer
		due   func(k uint64) time.Duration
		// tol is how far the pacer's own arithmetic may stray: the
		// constant pacer's is exact, the linear one solves for the
		// time from a straight-line step.
		tol time.Duration
	}{
		{"constant", constant, func(k uint64) time.Duration { return time.Duration(k+1) * time.Millisecond }, 0},
		{"linear", linear, func(k uint64) time.Duration {
			if k == 0 {
				return 0 // vegeta's linear pacer sends its first hit at once
			}
			// 100 t + 100 t²  = k + 1
			x := (-100 + math.Sqrt(100*100+4*100*float64(k+1))) / 200
			return time.Duration(x * float64(time.Second))
		}, 20 * time.Microsecond},
	} {
		s := schedule{pacer: tc.pacer, began: began}
		for _, k := range []uint64{0, 1, 7, 999, 5000, 12345} {
			want := tc.due(k)
			for _, late := range []time.Duration{-200 * time.Microsecond, 0, 300 * time.Microsecond, 40 * time.Millisecond, 3 * time.Second} {
				sent := began.Add(max(want+late, 0))
				got := s.due(k, sent).Sub(began)
				if d := got - want; d > tc.tol || d < -tc.tol {
					t.Errorf("%s hit %d sent %v after its time: due %v, want %v", tc.name, k, late, got, want)
				}
			}
		}
	}
}

func TestOpenRejectsWhatVegetaCannotDo(t *testing.T) {
	s := newTestServer(t, answerOK)
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Rate: 2e9}, "more than one request per nanosecond"},
		{Options{Rate: 100, Method: "GET BAD"}, "is not an HTTP token"},
	} {
		tc.o.URL, tc.o.Mode, tc.o.Duration = s.url, Open, time.Second
		if _, err := Run(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want one saying %q", tc.o, err, tc.want)
		}
	}
}
