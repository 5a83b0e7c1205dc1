package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/internal/spread"
)

func TestFmtRangeOfNothing(t *testing.T) {
	if got := fmtRange(spread.Of(nil)); got != "–" {
		t.Errorf("fmtRange of no values = %q, want –", got)
	}
}

func TestPerRequestAndRatio(t *testing.T) {
	if got := perRequestMicros(1.5, 300000); math.Abs(got-5) > 1e-9 {
		t.Errorf("1.5 s over 300000 requests = %v µs, want 5", got)
	}
	if !math.IsNaN(perRequestMicros(1, 0)) {
		t.Error("no requests must give no value, not infinity")
	}
	if got := ratio(6, 4); got != 1.5 {
		t.Errorf("ratio(6, 4) = %v", got)
	}
	if !math.IsNaN(ratio(1, math.NaN())) || !math.IsNaN(ratio(1, 0)) {
		t.Error("ratio against a missing baseline must be missing")
	}
}

func TestTableAlignsColumns(t *testing.T) {
	tb := &table{header: []string{"server", "req/s", "µs"}}
	tb.add("nginx", "123456", "1.5")
	tb.add("epoll", "9", "–")
	var b strings.Builder
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"| server |  req/s |  µs |\n" +
		"| :----- | -----: | --: |\n" +
		"| nginx  | 123456 | 1.5 |\n" +
		"| epoll  |      9 |   – |\n"
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestServersTableComparesWithNginxPerRound(t *testing.T) {
	cell := func(rps float64, requests int64, cpu time.Duration) serverCell {
		return serverCell{
			summary: summary{rps: rps, requests: requests},
			server:  procstat.Delta{Wall: 5 * time.Second, User: cpu / 2, System: cpu / 2},
			client:  procstat.Delta{Wall: 5 * time.Second, User: 4 * time.Second, System: time.Second / 2},
		}
	}
	results := map[string]*serverResult{
		// Round 2 is slower for both, as if the machine drifted; the
		// per-round ratio stays 2.
		"nginx": {name: "nginx", cells: map[int]serverCell{1: cell(100000, 500000, 2*time.Second), 2: cell(50000, 250000, 2*time.Second)}},
		"epoll": {name: "epoll", cells: map[int]serverCell{1: cell(50000, 250000, 2*time.Second), 2: cell(25000, 125000, 2*time.Second)}},
		"gonet": {name: "gonet", skipped: skipf("not built")},
	}
	var b strings.Builder
	if err := serversTable([]string{"epoll", "nginx", "gonet"}, results, 2).write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	epoll := strings.Fields(strings.ReplaceAll(lines[2], "|", " "))
	// server, req/s, range, user, sys, total, vs nginx, server CPU, wrk CPU, body
	want := []string{"epoll", "37500", "25000–50000", "6.00", "6.00", "12.00", "2.00×", "40%", "90%", "–"}
	if strings.Join(epoll, " ") != strings.Join(want, " ") {
		t.Fatalf("epoll row %q, want %q\n%s", epoll, want, b.String())
	}
	if !strings.Contains(lines[4], "gonet") || !strings.Contains(lines[4], "skipped") {
		t.Fatalf("gonet row %q does not say it was skipped", lines[4])
	}
}

func TestParseSummary(t *testing.T) {
	wrk := `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  100.00us   3.00ms   90.00%
    Req/Sec    89.03k     2.00k   92.00k    80.00%
  443060 requests in 5.00s, 217.20MB read
  Socket errors: connect 0, read 0, write 0, timeout 0
Requests/sec:  88269.87
Transfer/sec:     43.36MB
`
	s, err := parseSummary(wrk)
	if err != nil {
		t.Fatal(err)
	}
	if s.requests != 443060 || s.rps != 88269.87 || len(s.errors) != 0 {
		t.Fatalf("parsed %+v", s)
	}
	bad := strings.Replace(wrk, "read 0", "read 12", 1) + "  Non-2xx or 3xx responses: 7\n"
	if s, err = parseSummary(bad); err != nil || len(s.errors) != 2 {
		t.Fatalf("errors not found: %+v, %v", s, err)
	}
	if _, err := parseSummary("unable to connect to 127.0.0.1:8080 Connection refused\n"); err == nil {
		t.Fatal("output without Requests/sec must be an error")
	}
}
