package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
)

// TestDisplay: on a terminal a status line is rewritten in place with the
// cell, its live requests/s, the count and the time left, and results
// scroll above it; elsewhere each repetition is one plain line.
func TestDisplay(t *testing.T) {
	cell := &results.Cell{ID: "c1-epoll", Load: results.Load{Duration: results.Duration(time.Second)}}
	jobs := []job{{cell, 1}, {cell, 2}}
	ok := &results.Rep{Status: results.OK, Load: &loadgen.Result{RequestsPerS: 1234.4, Latency: loadgen.Latency{P99US: 2500}}}
	failed := &results.Rep{Status: results.Failed, Stage: results.StageVerify, Reason: "failed 1 of 25 conformance cases"}

	var live bytes.Buffer
	d := newDisplay(&live, true)
	d.plan(jobs)
	d.starting(0, jobs[0])
	d.event(Event{Kind: StageStarted, Cell: cell, Rep: 1, Stage: results.StageVerify})
	d.event(Event{Kind: Measured, Cell: cell, Rep: 1, Second: loadgen.Second{Requests: 1234}})
	d.finished(jobs[0], ok)
	d.starting(1, jobs[1])
	d.finished(jobs[1], failed)
	d.clear()
	out := live.String()
	for _, want := range []string{
		"\r\033[K[1/2] c1-epoll rep 1: verify — about ",
		"\r\033[K[1/2] c1-epoll rep 1: measuring 1234 req/s — about ",
		"\r\033[K[1/2] c1-epoll rep 1: 1234 req/s, p99 2.50 ms, 0 errors\n[1/2]",
		"\r\033[K[2/2] c1-epoll rep 2: FAILED at verify: failed 1 of 25 conformance cases\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the status line is not cleared at the end: %q", out)
	}

	var quiet bytes.Buffer
	d = newDisplay(&quiet, false)
	d.plan(jobs)
	d.starting(0, jobs[0])
	d.event(Event{Kind: Measured, Cell: cell, Rep: 1, Second: loadgen.Second{Requests: 1234}})
	d.finished(jobs[0], ok)
	d.starting(1, jobs[1])
	d.finished(jobs[1], failed)
	// A log gets one plain line per repetition, and no status line.
	if got, want := quiet.String(), "[1/2] c1-epoll rep 1: 1234 req/s, p99 2.50 ms, 0 errors\n[2/2] c1-epoll rep 2: FAILED at verify: failed 1 of 25 conformance cases\n"; got != want {
		t.Errorf("output off a terminal: %q, want %q", got, want)
	}

	// A status line never wraps, or \r could not redraw it.
	long := &results.Cell{ID: strings.Repeat("c1-epoll-backlog=1-", 8), Load: results.Load{Duration: results.Duration(time.Second)}}
	var narrow bytes.Buffer
	d = newDisplay(&narrow, true)
	d.plan([]job{{long, 1}})
	d.starting(0, job{long, 1})
	if line := strings.TrimPrefix(narrow.String(), "\r\033[K"); len([]rune(line)) > statusWidth {
		t.Errorf("status line of %d characters: %q", len([]rune(line)), line)
	}
}

// A repetition whose server closed after its answers says so beside its
// errors, which those closes are not.
func TestDisplayShowsServerCloses(t *testing.T) {
	cell := &results.Cell{ID: "c1-python-epoll", Load: results.Load{Duration: results.Duration(time.Second)}}
	jobs := []job{{cell, 1}}
	res := &results.Rep{Status: results.OK, Load: &loadgen.Result{Mode: loadgen.Closed, Requests: 1000, RequestsPerS: 1000,
		ServerCloses: 990, Fairness: &loadgen.Fairness{Jain: 1, MinShare: 1, MaxShare: 1, Connections: 1}}}
	var out bytes.Buffer
	d := newDisplay(&out, false)
	d.plan(jobs)
	d.starting(0, jobs[0])
	d.finished(jobs[0], res)
	if want := "[1/1] c1-python-epoll rep 1: 1000 req/s, p99 0.00 ms, 0 errors, 0.99 server closes per request\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
