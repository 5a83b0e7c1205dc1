package report

import (
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/runner/config"
	// The registry the forum configurations' servers are checked
	// against, as cmd/sockbench fills it.
	_ "github.com/sockbench/sockbench/servers/all"
)

// forumCells are a backlog experiment's cells, numbers fixed: the Python
// server gains 45% from the larger backlog and stalls for 1.8 s at
// backlog 1; Go's gains nothing; the trio cell's client was saturated.
func forumCells() []synthCell {
	ax := func(server, backlog string) map[string]string {
		return map[string]string{"server": server, "backlog": backlog}
	}
	rps := func(base float64) []float64 {
		return []float64{base * 0.99, base * 1.01, base, base * 0.995, base * 1.005, base * 1.002}
	}
	return []synthCell{
		{Axes: ax("py-epoll", "1"), RPS: rps(11000), P50US: 4000, P99US: 9000, MaxUS: 1_800_000, CPUUser: 40, CPUSys: 30, Accepts: 1, AcceptSyscalls: 2},
		{Axes: ax("py-epoll", "65535"), RPS: rps(16000), P50US: 3000, P99US: 6000, MaxUS: 30_000, CPUUser: 35, CPUSys: 25, Accepts: 20, AcceptSyscalls: 1.1},
		{Axes: ax("epoll", "1"), RPS: rps(20000), P50US: 2000, P99US: 5000, MaxUS: 20_000, CPUUser: 10, CPUSys: 20, Accepts: 1},
		{Axes: ax("epoll", "65535"), RPS: rps(20400), P50US: 2000, P99US: 5000, MaxUS: 20_000, CPUUser: 10, CPUSys: 20, Accepts: 30},
		{Axes: ax("py-trio", "65535"), RPS: rps(5000), P50US: 9000, P99US: 20000, MaxUS: 60_000, CPUUser: 90, CPUSys: 40, Saturated: true},
		{Axes: ax("py-asyncio", "65535"), RPS: []float64{math.NaN(), math.NaN()}, FailureReason: "server exited"},
		{Axes: ax("py-poll", "65535"), RPS: []float64{9000, 9100}, P50US: 4000, P99US: 9000, MaxUS: 40_000, CPUUser: 40, CPUSys: 30},
	}
}

const forumClaims = `version: 1
claims:
  - id: backlog
    post: 5
    thread: the maximum backlog makes the epoll server faster
    figure: 11.0K -> 16.2K
    experiment: forum-x
    python:
      checks:
        - {metric: requests_per_s, cell: "server=py-epoll, backlog=65535", over: "server=py-epoll, backlog=1", at_least: 1.47, tolerance: 10%}
    go:
      checks:
        - {metric: requests_per_s, cell: "server=epoll, backlog=65535", over: "server=epoll, backlog=1", at_least: 1.47, tolerance: 10%}
      explain:
        - {sysctl: net.core.somaxconn, below: 65535, say: "somaxconn is {value} here"}
        - {machine: cpus, below: 4, say: "only {value} CPUs"}
        - {metric: max_us, cell: "server=epoll, backlog=1", above: 1000000, say: "a stall of {value} ms"}
  - id: stall
    post: 5
    thread: listen(1) stalls for almost 2 s
    figure: 1.89 s
    experiment: forum-x
    python:
      checks:
        - {metric: max_us, cell: "server=py-epoll, backlog=1", statistic: highest, at_least: 1000000}
    go:
      not_applicable: the claim is about Python's listen(1)
  - id: missing
    post: 1
    thread: uvloop is twice trio
    figure: 2x
    experiment: forum-x
    python:
      checks:
        - {metric: requests_per_s, cell: "server=py-uvloop, backlog=65535", over: "server=py-trio, backlog=65535", at_least: 2}
    go:
      checks:
        - {metric: requests_per_s, cell: "server=py-asyncio, backlog=65535", at_least: 1}
  - id: unmeasured
    post: 1
    thread: something measured elsewhere
    figure: "1"
    experiment: forum-not-run
    python:
      checks:
        - {metric: requests_per_s, cell: server=epoll, at_least: 1}
    go:
      not_applicable: not Go's
  - id: saturated
    post: 1
    thread: trio is slow
    figure: 4K
    experiment: forum-x
    python:
      checks:
        - {metric: requests_per_s, cell: "server=py-epoll, backlog=65535", over: "server=py-trio, backlog=65535", at_least: 2}
        - {metric: requests_per_s, cell: "server=py-trio, backlog=65535", at_least: 1000}
        - {metric: requests_per_s, cell: "server=py-trio, backlog=65535", over: "server=py-epoll, backlog=1", at_least: 0.4}
        - {metric: max_us, cell: "server=py-epoll, backlog=1", over: "server=py-trio, backlog=65535", at_least: 10}
        - {metric: p99_us, cell: "server=py-trio, backlog=65535", at_least: 1000}
    go:
      checks:
        - {metric: requests_per_s, cell: "server=epoll, backlog=65535", over: "server=epoll, backlog=1", at_least: 1.02}
  - id: accept-model
    post: 18
    thread: batches of N cost (N+2)/N syscalls a connection
    figure: (N+2)/N
    experiment: forum-x
    python:
      checks:
        - {metric: accept_syscalls_over_model, cell: "server=py-epoll, backlog=65535", at_least: 1, at_most: 1, tolerance: 5%}
    go:
      checks:
        - {metric: accept_syscalls_over_model, cell: "server=py-epoll, backlog=1", at_least: 1, at_most: 1, tolerance: 5%}
  - id: few
    post: 1
    thread: poll does 5K
    figure: 5K
    experiment: forum-x
    python:
      checks:
        - {metric: requests_per_s, cell: "server=py-poll, backlog=65535", at_least: 5000}
        - {metric: max_us, cell: "server=py-poll, backlog=65535", statistic: highest, at_most: 1}
    go:
      not_applicable: not Go's
`

func evaluateFixture(t *testing.T) map[string]claimResult {
	t.Helper()
	return evaluateOn(t, forumClaims, synthRun("forum-x", []string{"server", "backlog"}, forumCells()))
}

// evaluateOn judges the claims text on r, as the results of forum-x.
func evaluateOn(t *testing.T, text string, r *run) map[string]claimResult {
	t.Helper()
	cs, err := parseClaims("claims.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.evaluate(&forum{Runs: map[string]*run{"forum-x": r}, Order: []string{"forum-x"}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]claimResult{}
	for _, cr := range res {
		out[cr.Claim.ID] = cr
	}
	return out
}

// TestSaturatedServersJudgedOnOneCore: where a saturated client's
// requests/s cannot decide, a server pinned to one CPU is judged on what
// its CPU per request allows there; unpinned, it stays flagged.
func TestSaturatedServersJudgedOnOneCore(t *testing.T) {
	r := synthRun("forum-x", []string{"server", "backlog"}, forumCells())
	r.ServerCPUs = 1
	c := evaluateOn(t, forumClaims, r)["saturated"].Stacks[0].Checks[0]
	// py-epoll's 16,000 over trio's 10⁶ ÷ (90 + 40) µs = 7,692.
	if c.Verdict != verdictReproduced || !c.OnOneCore || !strings.HasPrefix(c.figureText(), "2.08×") || !strings.Contains(c.How, "the load generator was saturated in c5, so its figure is the requests/s its server's CPU µs per request allow on its one CPU") {
		t.Errorf("pinned: %s %s (%s), on one core %v", c.Verdict, c.figureText(), c.How, c.OnOneCore)
	}
	if cv := c.judgedValues(c.Cells[1]); len(cv.Values) == 0 || math.Abs(cv.Values[0]-1e6/130) > 1e-6 {
		t.Errorf("the saturated cell's values as judged: %v", cv.Values)
	}
	// Latency has no such figure: still flagged.
	if c := evaluateOn(t, forumClaims, r)["saturated"].Stacks[0].Checks[4]; c.Verdict != verdictFlagged || c.OnOneCore {
		t.Errorf("latency on a saturated client, pinned: %s", c.Verdict)
	}
	r.ServerCPUs = 2
	if c := evaluateOn(t, forumClaims, r)["saturated"].Stacks[0].Checks[0]; c.Verdict != verdictFlagged || c.OnOneCore {
		t.Errorf("a server on 2 CPUs: %s, on one core %v", c.Verdict, c.OnOneCore)
	}
	// Nor without the server's CPU.
	cells := forumCells()
	cells[4].CPUUser, cells[4].CPUSys = math.NaN(), math.NaN()
	r = synthRun("forum-x", []string{"server", "backlog"}, cells)
	r.ServerCPUs = 1
	if c := evaluateOn(t, forumClaims, r)["saturated"].Stacks[0].Checks[0]; c.Verdict != verdictFlagged || c.OnOneCore {
		t.Errorf("no CPU measured: %s, on one core %v", c.Verdict, c.OnOneCore)
	}
}

// TestErrorsTheClaimExpects: failed requests flag a requests/s check,
// unless the check says they are what the claim is about.
func TestErrorsTheClaimExpects(t *testing.T) {
	cells := forumCells()
	cells[0].Errors = 55 // py-epoll at backlog 1: its timeouts
	r := synthRun("forum-x", []string{"server", "backlog"}, cells)
	if c := evaluateOn(t, forumClaims, r)["backlog"].Stacks[0]; c.Verdict != verdictFlagged || !strings.Contains(c.Why, "requests failed in c1") {
		t.Errorf("errors not expected: %s (%s)", c.Verdict, c.Why)
	}
	const check = `{metric: requests_per_s, cell: "server=py-epoll, backlog=65535", over: "server=py-epoll, backlog=1", at_least: 1.47, tolerance: 10%`
	text := strings.Replace(forumClaims, check+"}", check+`, errors_expected: "listen(1) times out"}`, 1)
	c := evaluateOn(t, text, r)["backlog"].Stacks[0].Checks[0]
	if c.Verdict != verdictReproduced || !strings.Contains(c.How, "requests failed in c1, as the check expects: listen(1) times out") {
		t.Errorf("errors expected: %s (%s)", c.Verdict, c.How)
	}
}

// TestClaimVerdicts: on a fixed results folder, a claim that holds, one
// that does not (with the reasons the recorded facts support), one whose
// data are missing, one not applicable, one on flagged cells and one the
// interval cannot decide.
func TestClaimVerdicts(t *testing.T) {
	res := evaluateFixture(t)
	tests := []struct {
		claim  string
		stack  int
		want   claimVerdict
		figure string
		why    string
	}{
		// 16000/11000 = 1.45 ≥ 1.47 less 10%.
		{"backlog", 0, verdictReproduced, "1.45×", ""},
		// 20400/20000 = 1.02, its whole interval below 1.32.
		{"backlog", 1, verdictNotReproduced, "1.02×", "outside ≥ 1.47 (≥ 1.32 with 10.0% tolerance)"},
		{"stall", 0, verdictReproduced, "1,800", ""},
		{"stall", 1, verdictNotApplicable, "", "the claim is about Python's listen(1)"},
		{"missing", 0, verdictNoClaimData, "", "forum-x has no cell server=py-uvloop, backlog=65535"},
		{"missing", 1, verdictNoClaimData, "", "no repetition of c6 counts (2 failed, 0 on a busy machine)"},
		{"unmeasured", 0, verdictNoClaimData, "", "the results hold no run of forum-not-run"},
		// The ratio over a saturated cell is never reproduced...
		{"saturated", 0, verdictFlagged, "3.20×", "the load generator was saturated in c5: its requests/s are the client's"},
		// ...and 20400/20000 against 1.02: the interval reaches across.
		{"saturated", 1, verdictInconclusive, "1.02×", "the interval reaches across ≥ 1.02"},
		// 1.1 accept syscalls a connection in batches of 20: (20+2)/20.
		{"accept-model", 0, verdictReproduced, "1", ""},
		// One at a time: 2 (accept, wait), the model's 3 counts a
		// failing accept that a batch of one does not make.
		{"accept-model", 1, verdictNotReproduced, "0.667", "accept syscalls/connection ÷ (N+2)/N of server=py-epoll, backlog=1 is 0.667"},
		// Two repetitions, both above the bound: too few to judge by.
		{"few", 0, verdictInconclusive, "9,050", "median of 2 repetitions: too few for an interval (need 4)"},
	}
	for _, tt := range tests {
		sr := res[tt.claim].Stacks[tt.stack]
		if sr.Verdict != tt.want {
			t.Errorf("%s on %s: %s (%s), want %s", tt.claim, stackNames[tt.stack], sr.Verdict, sr.Why, tt.want)
		}
		if tt.figure != "" && !strings.HasPrefix(sr.Checks[0].figureText(), tt.figure) {
			t.Errorf("%s on %s: figure %s, want %s…", tt.claim, stackNames[tt.stack], sr.Checks[0].figureText(), tt.figure)
		}
		if !strings.Contains(sr.Why, tt.why) {
			t.Errorf("%s on %s: why %q, want it to say %q", tt.claim, stackNames[tt.stack], sr.Why, tt.why)
		}
	}
	// Nor is two repetitions' highest enough to contradict a claim.
	if c := res["few"].Stacks[0].Checks[1]; c.Verdict != verdictInconclusive || !strings.Contains(c.Why, "2 repetitions: too few to judge by (need 4)") {
		t.Errorf("highest of two: %s, %s", c.Verdict, c.Why)
	}
	// A floor met by a saturated client's figure holds: the server
	// answered at least that.
	// A latency is the other way round: a saturated client's is a ceiling
	// of the server's, so a ratio over it keeps meeting a floor, and a
	// floor it meets itself proves nothing.
	for i, what := range map[int]string{1: "saturated floor", 2: "ratio with a saturated numerator over a floor", 3: "latency ratio with a saturated denominator over a floor"} {
		if c := res["saturated"].Stacks[0].Checks[i]; c.Verdict != verdictReproduced || !strings.Contains(c.How, "the bound holds for the server's own figure too") {
			t.Errorf("%s: %s, %s", what, c.Verdict, c.How)
		}
	}
	if c := res["saturated"].Stacks[0].Checks[4]; c.Verdict != verdictFlagged {
		t.Errorf("a saturated client's latency over a floor: %s, %s; want it flagged", c.Verdict, c.Why)
	}
	// Reasons come from the recorded facts: somaxconn 4096 < 65535 and 8
	// CPUs (not below 4); the Go cell stalled for 20 ms, not 1 s.
	if got, want := res["backlog"].Stacks[1].Reasons, []string{"somaxconn is 4096 here"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("reasons %q, want %q", got, want)
	}
	if got := res["backlog"].Stacks[0].Reasons; len(got) != 0 {
		t.Errorf("a reproduced claim has reasons: %q", got)
	}
	// The interval of the ratio inverts the rank test: six repetitions a
	// side give one.
	if c := res["backlog"].Stacks[0].Checks[0]; !(c.Lo < c.Value && c.Value < c.Hi) || c.Confidence < 0.95 || !strings.Contains(c.How, "p=0.002") {
		t.Errorf("interval %g–%g of %g at %g (%s)", c.Lo, c.Hi, c.Value, c.Confidence, c.How)
	}
}

// TestClaimsReport: make forum's layout, a folder of run folders, judged
// into REPORT.md with a plot per claim; a run measured twice counts once,
// its newer measurement.
func TestClaimsReport(t *testing.T) {
	dir := t.TempDir()
	r := synthRun("20251124-100000-keep-alive", []string{"server", "keep_alive", "connections"}, twoAxisCells())
	writeStored(t, filepath.Join(dir, r.ID), r)
	newer := synthRun("20251124-110000-keep-alive", []string{"server", "keep_alive", "connections"}, twoAxisCells())
	writeStored(t, filepath.Join(dir, newer.ID), newer)
	if err := os.Symlink(newer.ID, filepath.Join(dir, "latest")); err != nil {
		t.Fatal(err)
	}
	claimsPath := filepath.Join(dir, "claims.yaml")
	text := `version: 1
claims:
  - id: nethttp-slower
    post: 1
    thread: net/http is slower than epoll
    figure: 1.5x
    experiment: keep-alive
    python:
      not_applicable: no Python here
    go:
      checks:
        - {metric: cpu_us_per_request, cell: "server=nethttp, keep_alive=true", over: "server=epoll, keep_alive=true", at_least: 1.3}
`
	if err := os.WriteFile(claimsPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Claims(dir, claimsPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(p.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	// CPU per request: (9.5+7.1)/(4.1+6.2) = 1.61.
	for _, want := range []string{
		"| nethttp-slower | #1 | net/http is slower than epoll (1.5x) | not applicable here | reproduced: 1.6",
		"left out**: 20251124-100000-keep-alive",
		"![nethttp-slower](plots/claim-nethttp-slower.png)",
		// Its windows are 10 s: long enough for the seconds to show.
		"![nethttp-slower, second by second](plots/claim-nethttp-slower-timeline.png)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("REPORT.md lacks %q:\n%s", want, md)
		}
	}
	// The plots are committed with REPORT.md: drawn at screen resolution.
	f, err := os.Open(filepath.Join(dir, "plots", "claim-nethttp-slower.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.DecodeConfig(f)
	if want := int(math.Round(chartWidth.Points() * claimPlotDPI / 72)); err != nil || img.Width != want {
		t.Errorf("plot %d px wide (%v), want %d", img.Width, err, want)
	}
	// Results that hold none of the claims' experiments are refused.
	if _, err := Claims(filepath.Join(dir, newer.ID), writeClaimsFile(t, strings.ReplaceAll(text, "experiment: keep-alive", "experiment: other")), Options{OutDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "holds none of the experiments") {
		t.Errorf("claims on other results: %v", err)
	}
}

func writeClaimsFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "claims.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClaimsFileProblems: a broken claims file is refused with the file,
// the line and the field of every mistake.
func TestClaimsFileProblems(t *testing.T) {
	head := "version: 1\nclaims:\n  - id: c\n    post: 1\n    thread: t\n    figure: f\n    experiment: e\n    go: {not_applicable: no}\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"syntax", "version: 1\nclaims: [\n", []string{"c.yaml:2: YAML syntax: sequence end token ']' not found"}},
		{"unknown key", head + "    python: {checks: [{metric: requests_per_s, cel: server=a, at_least: 1}]}\n",
			[]string{"c.yaml:9: claims[0].python.checks[0].cel: unknown field; claims[0].python.checks[0] takes metric, cell, over, at_least, at_most, tolerance, statistic, errors_expected"}},
		{"unknown metric", head + "    python:\n      checks:\n        - {metric: rps, cell: server=a, at_least: 1}\n",
			[]string{"c.yaml:11: claims[0].python.checks[0].metric: unknown metric \"rps\"; the metrics are " + strings.Join(claimMetricNames(), ", ")}},
		{"bad cell and no bound", head + "    python:\n      checks:\n        - {metric: requests_per_s, cell: py-epoll}\n",
			[]string{"c.yaml:11: claims[0].python.checks[0].cell: \"py-epoll\" is not axis=value (write cells as \"server=py-epoll, backlog=1\")",
				"c.yaml:11: claims[0].python.checks[0]: no bound: give at_least, at_most or both"}},
		{"no stack", head, []string{"c.yaml:3: claims[0].python: missing; say how the claim is tested on Python (checks), or why it does not apply (not_applicable)"}},
		{"tolerance and explain", head + "    python:\n      checks:\n        - {metric: requests_per_s, cell: server=a, at_least: 1, tolerance: 150%}\n      explain:\n        - {machine: ram, below: 1, say: x}\n",
			[]string{"c.yaml:11: claims[0].python.checks[0].tolerance: want a share from 0% to below 100%",
				"c.yaml:13: claims[0].python.explain[0].machine: \"ram\": the machine facts are cpus"}},
		{"interpreter", head + "    python:\n      checks:\n        - {metric: requests_per_s, cell: server=a, at_least: 1}\n      explain:\n        - {interpreter: /usr/bin/python3, newer_than: three, say: x}\n        - {sysctl: a.b, below: 1, newer_than: \"3.7\", say: x}\n",
			[]string{"c.yaml:13: claims[0].python.explain[0].newer_than: \"three\" is not a version such as 3.7: give the version the interpreter is compared with (\"3.7\")",
				"c.yaml:14: claims[0].python.explain[1].newer_than: newer_than goes with an interpreter"}},
		{"duplicate id", head + "    python: {not_applicable: no}\n" + strings.TrimPrefix(head, "version: 1\nclaims:\n") + "    python: {not_applicable: no}\n",
			[]string{"c.yaml:10: claims[1].id: \"c\" is already the id of claims[0]"}},
	}
	for _, tt := range tests {
		_, err := parseClaims("c.yaml", []byte(tt.yaml))
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want problems", tt.name, err)
			continue
		}
		if got := err.Error(); got != strings.Join(tt.want, "\n") {
			t.Errorf("%s: problems:\n%s\nwant:\n%s", tt.name, got, strings.Join(tt.want, "\n"))
		}
	}
	// A cell that matches several is the claims file's mistake, located.
	cs, err := parseClaims("c.yaml", []byte(head+"    python:\n      checks:\n        - {metric: requests_per_s, cell: server=epoll, at_least: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs.List[0].Experiment = "forum-x"
	r := synthRun("forum-x", []string{"server", "backlog"}, forumCells())
	_, err = cs.evaluate(&forum{Runs: map[string]*run{"forum-x": r}})
	if want := `c.yaml:11: claims[0].python.checks[0].cell: "server=epoll" matches 2 cells of forum-x (server=epoll, backlog=1; server=epoll, backlog=65535): name more axes`; err == nil || err.Error() != want {
		t.Errorf("ambiguous cell: %v, want %s", err, want)
	}
	// So is an explanation's, when the claim needs its reasons.
	cs, err = parseClaims("c.yaml", []byte(head+"    python:\n      checks:\n        - {metric: requests_per_s, cell: \"server=epoll, backlog=1\", at_least: 1000000000}\n      explain:\n        - {metric: max_us, cell: server=epoll, above: 1, say: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs.List[0].Experiment = "forum-x"
	_, err = cs.evaluate(&forum{Runs: map[string]*run{"forum-x": r}})
	if err == nil || !strings.Contains(err.Error(), `c.yaml:13: claims[0].python.explain[0].cell: "server=epoll" matches 2 cells`) {
		t.Errorf("ambiguous explanation: %v", err)
	}
}

// TestInterpreterReason: a newer interpreter than the thread's is given
// as a reason when the run recorded it, an older or unknown one not.
func TestInterpreterReason(t *testing.T) {
	text := forumClaims + `  - id: python
    post: 1
    thread: something slow
    figure: "1"
    experiment: forum-x
    python:
      checks:
        - {metric: requests_per_s, cell: "server=py-epoll, backlog=1", at_least: 1000000000}
      explain:
        - {interpreter: /usr/bin/python3, newer_than: "3.7", say: "CPython {value} here"}
        - {interpreter: /usr/bin/python3, newer_than: "3.14", say: "newer than 3.14"}
        - {interpreter: /usr/bin/pypy3, newer_than: "6.0", say: "PyPy {value} here"}
    go:
      not_applicable: not Go's
`
	r := synthRun("forum-x", []string{"server", "backlog"}, forumCells())
	r.Interpreters = map[string]string{"/usr/bin/python3": "CPython 3.13.5", "/usr/bin/pypy3": "unknown (exit status 1)"}
	got := evaluateOn(t, text, r)["python"].Stacks[0].Reasons
	if want := []string{"CPython CPython 3.13.5 here"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("reasons %q, want %q", got, want)
	}
}

// TestShippedClaims: configs/forum/claims.yaml reads, every experiment it
// names is a configuration of configs/forum/, and every cell it names is
// exactly one cell of that configuration's plan.
func TestShippedClaims(t *testing.T) {
	cs, err := readClaims("../configs/forum/claims.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../configs/forum/[0-9][0-9]-*.yaml")
	runs := map[string]*run{}
	for _, f := range files {
		p, err := config.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := &run{ID: p.Name}
		for _, c := range p.Cells {
			r.Cells = append(r.Cells, &cell{ID: c.ID, Axes: c.Axes})
		}
		runs[p.Name] = r
	}
	used := map[string]bool{}
	for _, c := range cs.List {
		r, ok := runs[c.Experiment]
		if !ok {
			t.Errorf("%s: experiment %s is no configuration of configs/forum/", c.ID, c.Experiment)
			continue
		}
		used[c.Experiment] = true
		for _, st := range c.Stacks {
			var refs []cellRef
			for _, ch := range st.Checks {
				refs = append(refs, ch.cellRefs()...)
			}
			for _, e := range st.Explain {
				if e.cell != nil {
					refs = append(refs, cellRef{e.cell, e.Path + ".cell"})
				}
			}
			for _, ref := range refs {
				found, err := cs.findCell(r, ref.Selector, ref.Path)
				if err != nil || found == nil {
					t.Errorf("%s %s: %q names no single cell of %s (%v)", c.ID, ref.Path, ref.Selector, c.Experiment, err)
				}
			}
		}
	}
	for name := range runs {
		if !used[name] {
			t.Errorf("no claim is tested by %s", name)
		}
	}
}

// TestClaimLeavesOutBusyReps: a repetition measured on a busy machine is
// left out of a claim's figure, and the figure says so.
func TestClaimLeavesOutBusyReps(t *testing.T) {
	cells := forumCells()
	cells[0].Busy = []int{2}
	r := synthRunWith("forum-x", []string{"server", "backlog"}, cells, synthOptions{Interference: true})
	cs, err := parseClaims("claims.yaml", []byte(forumClaims))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.evaluate(&forum{Runs: map[string]*run{"forum-x": r}})
	if err != nil {
		t.Fatal(err)
	}
	c := res[0].Stacks[0].Checks[0]
	if c.N[0] != 6 || c.N[1] != 5 || !strings.Contains(c.How, "1 of 6 repetitions of c1 left out (machine busy)") {
		t.Errorf("n=%v, %s", c.N, c.How)
	}
}
