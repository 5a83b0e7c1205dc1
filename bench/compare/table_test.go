package main

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/internal/ranktest"
)

func TestFmtRangeOfNothing(t *testing.T) {
	if got := fmtRange(ranktest.NewSample(nil)); got != "–" {
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
	// server, req/s, range, user, sys, total, vs nginx, test vs nginx
	// (two rounds: too few for the test), server CPU, wrk CPU, body
	want := []string{"epoll", "37500", "25000–50000", "6.00", "6.00", "12.00", "2.00×",
		"too", "few", "repetitions", "to", "tell", "(n=2+2,", "need", "≥", "4", "each)", "40%", "90%", "–"}
	if strings.Join(epoll, " ") != strings.Join(want, " ") {
		t.Fatalf("epoll row %q, want %q\n%s", epoll, want, b.String())
	}
	if !strings.Contains(lines[4], "gonet") || !strings.Contains(lines[4], "skipped") {
		t.Fatalf("gonet row %q does not say it was skipped", lines[4])
	}
}

// Whether a server's CPU per request differs from nginx's is the rank
// test's over the rounds, not the ranges': gonet's rounds interleave with
// nginx's (no significant difference), epoll's are all above them (a
// significant change, with its interval), and nginx is the baseline.
func TestServersTableTestsAgainstNginx(t *testing.T) {
	cells := func(cpuMicros ...float64) map[int]serverCell {
		m := map[int]serverCell{}
		for i, us := range cpuMicros {
			cpu := time.Duration(us * 500000 * float64(time.Microsecond))
			m[i+1] = serverCell{summary: summary{rps: 100000, requests: 500000},
				server: procstat.Delta{Wall: 5 * time.Second, User: cpu / 2, System: cpu / 2}}
		}
		return m
	}
	results := map[string]*serverResult{
		"nginx": {name: "nginx", cells: cells(4.0, 4.2, 3.9, 4.1, 4.05)},
		"epoll": {name: "epoll", cells: cells(5.0, 5.3, 4.9, 5.1, 5.2)},
		"gonet": {name: "gonet", cells: cells(4.1, 3.95, 4.15, 4.0, 4.2)},
	}
	var b strings.Builder
	if err := serversTable([]string{"nginx", "epoll", "gonet"}, results, 5).write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	column := func(line int) string { return strings.TrimSpace(strings.Split(lines[line], "|")[8]) }
	if got := strings.TrimSpace(strings.Split(lines[0], "|")[8]); got != "test vs nginx" {
		t.Fatalf("column 8 is %q, want the test\n%s", got, b.String())
	}
	for line, want := range map[int]string{2: "–", 3: "+25.9% [+19.5%, +32.5%] (p=0.008, n=5+5)", 4: "no significant difference (p=0.770, n=5+5)"} {
		if got := column(line); got != want {
			t.Errorf("row %d: test %q, want %q\n%s", line, got, want, b.String())
		}
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

// sockbench's summary adds words after the rate and a line of unfinished
// requests that also says "requests in"; wrk2's latency distribution
// prints percentiles with three decimals.
func TestParseSummaryOfSockbenchAndWrk2(t *testing.T) {
	sockbench := `Running 5s closed test @ http://127.0.0.1:8080/
  Latency Distribution
       50%   71.00us
       99%    4.06ms
  46436 requests in 1.00s, 23.07MB read (whole responses: status line, headers, body)
  Unfinished: 10 requests in flight when the window closed, cancelled: neither answered nor failed
Requests/sec:     46436.00  (100% answered with status 200)
`
	s, err := parseSummary(sockbench)
	if err != nil || s.requests != 46436 || s.rps != 46436 || s.p50US != 71 {
		t.Errorf("sockbench: %+v, %v", s, err)
	}
	wrk2 := `  Latency Distribution (HdrHistogram - Recorded Latency)
 50.000%    1.02ms
 75.000%    1.40ms
  24401 requests in 5.00s, 12.13MB read
Requests/sec:   4880.02
`
	if s, err = parseSummary(wrk2); err != nil || s.requests != 24401 || s.p50US != 1020 {
		t.Errorf("wrk2: %+v, %v", s, err)
	}
}

// The paced table compares sockbench with wrk2 at the same rate in the
// same round, and says how much of what was asked each answered.
func TestPacedTableComparesWithWrk2PerRound(t *testing.T) {
	cell := func(requests int64, cpu time.Duration, p50 float64) generatorCell {
		return generatorCell{summary: summary{rps: float64(requests) / 5, requests: requests, p50US: p50},
			generator: procstat.Delta{Wall: 5 * time.Second, User: cpu / 4, System: cpu * 3 / 4}}
	}
	rows := []contestant{
		{row: "sockbench --rate 5000", gen: "sockbench", kind: paced, rate: 5000},
		{row: "wrk2 -R5000", gen: "wrk2", kind: paced, rate: 5000},
	}
	res := loadgenResults{all: rows, rounds: 2, duration: 5 * time.Second, skipped: map[string]error{}, failures: map[string][]string{},
		cells: map[string]map[int]generatorCell{
			// Round 2 is twice as slow for both: the per-round ratio
			// stays 0.5.
			"sockbench --rate 5000": {1: cell(25000, 250*time.Millisecond, 60), 2: cell(25000, 500*time.Millisecond, 60)},
			"wrk2 -R5000":           {1: cell(24400, 488*time.Millisecond, 1020), 2: cell(24400, 976*time.Millisecond, 1020)},
		}}
	var b strings.Builder
	if err := res.pacedTable(rows).write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	got := strings.Join(strings.Fields(strings.ReplaceAll(lines[2], "|", " ")), " ")
	if want := "5000 sockbench 15.00 0.50× too few repetitions to tell (n=2+2, need ≥ 4 each) 3.75 11.25 25000 (100.0%) 60µs 8%"; got != want {
		t.Errorf("sockbench row %q, want %q\n%s", got, want, b.String())
	}
	if !strings.Contains(lines[3], "24400 (97.6%)") || !strings.Contains(lines[3], "1.02ms") {
		t.Errorf("wrk2 row %q", lines[3])
	}
}

// Unpaced, nginx sets the req/s and CPU per request leads; in the race the
// generators set it and it leads. Both compare with wrk in the same round.
func TestGeneratorTablesLeadWithTheirMeasure(t *testing.T) {
	cell := func(requests int64, cpu time.Duration) generatorCell {
		return generatorCell{summary: summary{rps: float64(requests) / 5, requests: requests},
			generator: procstat.Delta{Wall: 5 * time.Second, User: cpu / 2, System: cpu / 2}}
	}
	rows := []contestant{{row: "wrk", kind: unpaced}, {row: "sockbench", kind: unpaced},
		{row: "wrk, depth 16", kind: race, depth: 16}, {row: "sockbench, depth 16", kind: race, depth: 16}}
	res := loadgenResults{all: rows, rounds: 1, skipped: map[string]error{}, failures: map[string][]string{},
		cells: map[string]map[int]generatorCell{
			"wrk": {1: cell(500000, 4*time.Second)}, "sockbench": {1: cell(500000, 3*time.Second)},
			"wrk, depth 16": {1: cell(1000000, 5*time.Second)}, "sockbench, depth 16": {1: cell(1500000, 5*time.Second)},
		}}
	var b strings.Builder
	if err := res.unpacedTable(rows[:2]).write(&b); err != nil {
		t.Fatal(err)
	}
	if err := res.raceTable(rows[2:]).write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	fields := func(i int) string { return strings.Join(strings.Fields(strings.ReplaceAll(lines[i], "|", " ")), " ") }
	if got, want := fields(3), "sockbench 6.00 0.75× too few repetitions to tell (n=1+1, need ≥ 4 each) 3.00 3.00 60% 100000 100000–100000 0.00"; got != want {
		t.Errorf("unpaced row %q, want %q", got, want)
	}
	if got, want := fields(7), "sockbench, depth 16 300000 300000–300000 3.33 0.67× too few repetitions to tell (n=1+1, need ≥ 4 each) 1.67 1.67 100% 0.00"; got != want {
		t.Errorf("race row %q, want %q", got, want)
	}
}

// The race tests req/s against wrk's, the unpaced table CPU per request:
// each its own measure. Here sockbench answers 1.5× wrk's requests at the
// same CPU per request in every round.
func TestGeneratorTablesTestTheirMeasure(t *testing.T) {
	var rows []contestant
	cells := map[string]map[int]generatorCell{}
	for _, k := range []struct {
		kind contestant
		rps  float64
	}{
		{contestant{row: "wrk", kind: unpaced}, 100000}, {contestant{row: "sockbench", kind: unpaced}, 150000},
		{contestant{row: "wrk, depth 16", kind: race, depth: 16}, 100000}, {contestant{row: "sockbench, depth 16", kind: race, depth: 16}, 150000},
	} {
		rows = append(rows, k.kind)
		cells[k.kind.row] = map[int]generatorCell{}
		for round := 1; round <= 5; round++ {
			rps := k.rps * (1 + 0.01*float64(round))
			requests := int64(rps * 5)
			cells[k.kind.row][round] = generatorCell{summary: summary{rps: rps, requests: requests},
				generator: procstat.Delta{Wall: 5 * time.Second, User: time.Duration(requests) * 5 * time.Microsecond}}
		}
	}
	res := loadgenResults{all: rows, rounds: 5, skipped: map[string]error{}, failures: map[string][]string{}, cells: cells}
	test := func(tb *table, row int) string {
		i := slices.IndexFunc(tb.header, func(h string) bool { return strings.HasSuffix(h, "test vs wrk") })
		if i < 0 {
			t.Fatalf("no test column in %q", tb.header)
		}
		return tb.rows[row][i]
	}
	if h := res.raceTable(rows[2:]).header; !slices.Contains(h, "req/s test vs wrk") || !slices.Contains(h, "µs/req vs wrk") {
		t.Errorf("race columns %q: the test names req/s, the ratio µs/req", h)
	}
	if got := test(res.unpacedTable(rows[:2]), 1); !strings.HasPrefix(got, "no significant difference") {
		t.Errorf("unpaced, same CPU per request: %q", got)
	}
	if got := test(res.raceTable(rows[2:]), 1); !strings.HasPrefix(got, "+50.0% [+") {
		t.Errorf("race, 1.5× the req/s: %q", got)
	}
	if got := test(res.raceTable(rows[2:]), 0); got != "–" {
		t.Errorf("the baseline tested against itself: %q", got)
	}
}
