// Package verify is sockbench's conformance gate: a quick set of HTTP/1.1
// exchanges a server must get right before any number measured on it is
// worth reporting (the TechEmpower toolset's verify step, and DESIGN.md's
// "never a crash and never a hang").
//
// Every case speaks raw TCP on its own connection with its own deadline,
// writes exact bytes (some one byte at a time, some deliberately malformed)
// and reads the answer with a small strict parser of its own, because an
// HTTP client library would repair or hide exactly what is being checked.
// The slowest case waits 1.1 s on purpose to see the Date header change;
// the others run one after another beside it (see DefaultParallel for why
// not all at once), so a run against a sound server takes about 1.1 s.
package verify

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout is the per-case deadline when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// DefaultParallel is how many cases run at once when Options.Parallel is
// zero: date-advances on one connection, every other case in turn on the
// other. Those finish within date-advances' 1.1 s against a sound server,
// and two connections at a time never overflow a listen backlog of 1 (thread
// post #5), which more would: the kernel then drops SYNs (a one-second
// retry) or completes handshakes by SYN cookie, which can lose a client's
// first data segment, and cases fail for reasons that are not the
// server's HTTP.
const DefaultParallel = 2

// Options tune a run. The zero value runs every case with DefaultTimeout.
type Options struct {
	// Timeout bounds each case, from connecting to the last byte it waits
	// for; cases that pause on purpose get their pauses on top. A server
	// that hangs fails the case when it expires.
	Timeout time.Duration
	// Skip names cases not to run, for peers that legitimately differ
	// (nginx's `return 200` answers any method). An unknown name is an
	// error, so a typo cannot silently skip nothing.
	Skip []string
	// Parallel is how many cases run at once, each on its own connection;
	// zero means DefaultParallel. More make a run against a server that
	// hangs end sooner (each hang costs a Timeout), but only use them when
	// the server's listen backlog is larger than Parallel.
	Parallel int
	// ExpectBodyContains are substrings the body of the 200 response to
	// GET must contain, so a server answering with the wrong page fails.
	ExpectBodyContains []string
}

// Result is the outcome of one case.
type Result struct {
	// Name is the case's name, as Cases lists it.
	Name string `json:"name"`
	// Pass is true when the server behaved; false for failed and skipped
	// cases alike, so look at Skipped too.
	Pass bool `json:"pass"`
	// Skipped is true when Options.Skip named the case.
	Skipped bool `json:"skipped,omitempty"`
	// Sent quotes the bytes written (truncated) and how they were written.
	Sent string `json:"sent,omitempty"`
	// Got lists what came back in order: status lines, "connection
	// closed", "timeout", unexpected bytes (truncated).
	Got string `json:"got,omitempty"`
	// Reason says why the case failed; empty when it passed.
	Reason string `json:"reason,omitempty"`
}

// Report is the outcome of a run, one Result per case in Cases order.
type Report struct {
	// Target is the URL as given to Run.
	Target string `json:"target"`
	// Results holds every case, skipped ones included.
	Results []Result `json:"results"`
	// Duration is the wall time of the whole run.
	Duration time.Duration `json:"duration_ns"`
}

// OK reports whether no case failed; skipped cases do not count.
func (r Report) OK() bool { return len(r.Failures()) == 0 }

// Failures returns the cases that ran and failed.
func (r Report) Failures() []Result {
	var f []Result
	for _, res := range r.Results {
		if !res.Pass && !res.Skipped {
			f = append(f, res)
		}
	}
	return f
}

// Cases returns the names of every case in the order they are reported.
func Cases() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// Run checks the HTTP/1.1 server at target, an http://host[:port][/path]
// URL whose path is the page that must answer 200. It returns an error, and
// runs nothing, when the options or the URL are invalid or the target does
// not accept a connection; a server that accepts but misbehaves is reported
// in the Report, not as an error. Cancelling ctx interrupts every case; Run
// then returns what it has together with ctx's error.
func Run(ctx context.Context, target string, opts Options) (Report, error) {
	start := time.Now()
	rep := Report{Target: target}
	t, err := parseTarget(target)
	if err != nil {
		return rep, err
	}
	timeout := opts.Timeout
	switch {
	case timeout < 0:
		return rep, fmt.Errorf("verify: negative timeout %s", timeout)
	case timeout == 0:
		timeout = DefaultTimeout
	}
	parallel := opts.Parallel
	switch {
	case parallel < 0:
		return rep, fmt.Errorf("verify: negative parallel %d", parallel)
	case parallel == 0:
		parallel = DefaultParallel
	}
	names := Cases()
	for _, s := range opts.Skip {
		if !slices.Contains(names, s) {
			return rep, fmt.Errorf("verify: no case named %q to skip (cases: %s)", s, strings.Join(names, ", "))
		}
	}
	t.expectBody = opts.ExpectBodyContains

	// One connection first: an address nobody listens on is a usage error
	// (wrong port, server not started), not twenty-five failed cases. The
	// connection is then handed to the first case that dials, so the run
	// never has more than parallel connections open.
	d := net.Dialer{Timeout: timeout}
	probe, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return rep, fmt.Errorf("verify %s: %w", target, err)
	}
	t.spare = make(chan net.Conn, 1)
	t.spare <- probe
	defer func() {
		select {
		case c := <-t.spare:
			c.Close()
		default:
		}
	}()

	rep.Results = make([]Result, len(cases))
	queue := make(chan int, len(cases))
	for _, first := range []bool{true, false} {
		for i, c := range cases {
			switch {
			case c.first != first:
			case slices.Contains(opts.Skip, c.name):
				rep.Results[i] = Result{Name: c.name, Skipped: true}
			default:
				queue <- i
			}
		}
	}
	close(queue)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range queue {
				if ctx.Err() != nil {
					rep.Results[i] = Result{Name: cases[i].name, Reason: "interrupted before it ran"}
					continue
				}
				rep.Results[i] = runCase(ctx, t, cases[i], timeout)
			}
		})
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("verify %s: interrupted: %w", target, err)
	}
	return rep, nil
}

// runCase runs one case on a session of its own.
func runCase(ctx context.Context, t target, c testCase, timeout time.Duration) Result {
	s := &session{ctx: ctx, t: t, deadline: time.Now().Add(timeout + c.extra)}
	defer s.hangUp()
	err := c.run(s)
	res := Result{Name: c.name, Pass: err == nil, Sent: s.sentSummary(), Got: s.gotSummary()}
	if err != nil {
		res.Reason = err.Error()
		if ctx.Err() != nil {
			res.Reason = "interrupted: " + res.Reason
		}
	}
	return res
}

// target is where the cases connect and what they put in their requests.
type target struct {
	// addr is host:port to dial.
	addr string
	// host is the Host header value.
	host string
	// path is the request-target of the page that must answer 200.
	path string
	// expectBody comes from Options.ExpectBodyContains.
	expectBody []string
	// spare holds the run's probe connection until a case takes it.
	spare chan net.Conn
}

func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("verify: target %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("verify: target %q: want an http:// URL (the cases speak plain HTTP/1.1 over TCP)", raw)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("verify: target %q has no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return target{addr: net.JoinHostPort(u.Hostname(), port), host: u.Host, path: path}, nil
}
