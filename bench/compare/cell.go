package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/internal/supervise"
)

// summary is what a wrk-style report says about one run.
type summary struct {
	// requests is the total from "N requests in 5.00s"; a generator that
	// does not print that line gets rps × duration.
	requests int64
	rps      float64
	// errors are wrk's "Socket errors" and "Non-2xx or 3xx responses"
	// lines, when they report any.
	errors []string
	// p50US is the median latency of the "50%" line of a latency
	// distribution (wrk --latency, wrk2, sockbench), 0 without one.
	p50US float64
}

// parseSummary reads the lines of a wrk report that the tables need. Our own
// engine and the vegeta mode print the same lines.
func parseSummary(out string) (summary, error) {
	var s summary
	sawRPS := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Requests/sec:"):
			// sockbench adds the share answered with --status after
			// the number.
			f := strings.Fields(strings.TrimPrefix(line, "Requests/sec:"))
			if len(f) == 0 {
				return summary{}, fmt.Errorf("bad %q line: no number", line)
			}
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return summary{}, fmt.Errorf("bad %q line: %w", line, err)
			}
			s.rps, sawRPS = v, true
		case strings.Contains(line, " requests in ") && !strings.HasPrefix(line, "Unfinished:"):
			n, err := strconv.ParseInt(strings.Fields(line)[0], 10, 64)
			if err != nil {
				return summary{}, fmt.Errorf("bad %q line: %w", line, err)
			}
			s.requests = n
		case strings.HasPrefix(line, "Socket errors:"):
			if !allZero(strings.TrimPrefix(line, "Socket errors:")) {
				s.errors = append(s.errors, line)
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			s.errors = append(s.errors, line)
		case s.p50US == 0 && (strings.HasPrefix(line, "50%") || strings.HasPrefix(line, "50.000%")):
			if f := strings.Fields(line); len(f) >= 2 {
				s.p50US = parseLatency(f[1])
			}
		}
	}
	if !sawRPS {
		return summary{}, errors.New("no Requests/sec: line in the load generator's output")
	}
	return s, nil
}

// parseLatency reads a latency as wrk prints it (950.00us, 1.02ms, 2.00s)
// in µs; 0 if it is not one.
func parseLatency(s string) float64 {
	for _, u := range []struct {
		suffix string
		us     float64
	}{{"us", 1}, {"µs", 1}, {"ms", 1e3}, {"m", 60e6}, {"s", 1e6}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				return x * u.us
			}
			return 0
		}
	}
	return 0
}

// allZero reports whether every number in "connect 0, read 0, …" is 0.
func allZero(counts string) bool {
	for f := range strings.FieldsSeq(counts) {
		f = strings.TrimSuffix(f, ",")
		if n, err := strconv.Atoi(f); err == nil && n != 0 {
			return false
		}
	}
	return true
}

// pinnedRun is one finished load generator process.
type pinnedRun struct {
	output string
	// cost is what the process itself spent, start to exit.
	cost procstat.Delta
}

// runPinned runs argv to completion pinned to cpus, with env (nil: this
// process's), and measures its own CPU: a snapshot right after the start,
// and one of the zombie after it exits but before it is reaped, which still
// holds the totals of all its threads. A run longer than limit is killed
// and reported as an error.
func runPinned(argv, env []string, cpus []int, limit time.Duration) (pinnedRun, error) {
	name := filepath.Base(argv[0])
	// Written by the copying of the output, read once the process has
	// been reaped, which is after that copying ends.
	var out bytes.Buffer
	var before procstat.Snapshot
	var beforeErr error
	after, afterErr := procstat.Snapshot{}, errors.New("it was reaped before it could be sampled")
	p, err := supervise.Start(supervise.Spec{Name: name, Argv: argv, Env: env, CPUs: cpus, Output: &out,
		AfterStart: func(pid int) { before, beforeErr = procstat.Sample(pid) },
		BeforeReap: func(pid int) { after, afterErr = procstat.Sample(pid) }})
	if err != nil {
		return pinnedRun{}, err
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.Exited():
	case <-timer.C:
		p.Kill()
		return pinnedRun{}, fmt.Errorf("%s ran past %v and was killed: %s", name, limit, clipOutput(out.String()))
	}
	switch {
	case p.Err() != nil:
		return pinnedRun{output: out.String()}, fmt.Errorf("%s: %w: %s", name, p.Err(), clipOutput(out.String()))
	case beforeErr != nil:
		return pinnedRun{}, fmt.Errorf("sample %s: %w", name, beforeErr)
	case afterErr != nil:
		return pinnedRun{}, fmt.Errorf("sample %s: %w", name, afterErr)
	}
	return pinnedRun{output: out.String(), cost: after.Sub(before)}, nil
}

// wrkCommand is wrk with one thread, the shape every comparison uses.
func wrkCommand(wrk string, connections int, d time.Duration, url string) []string {
	// wrk takes whole seconds.
	secs := int(math.Ceil(d.Seconds()))
	return []string{wrk, "-t1", fmt.Sprintf("-c%d", connections), fmt.Sprintf("-d%ds", secs), url}
}

// wrkSeconds is the duration wrk really runs for d.
func wrkSeconds(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// serverCell is one measured run of one server.
type serverCell struct {
	summary
	server procstat.Delta
	client procstat.Delta
}

// measureServer warms srv up with wrk, then runs wrk for the measured
// window with the server sampled right before and after it.
func measureServer(c *common, srv *runningServer, round int) (serverCell, error) {
	warm := wrkCommand(c.wrk, c.connections, c.warmup, srv.url())
	if _, err := runPinned(warm, nil, c.clientCPUs, wrkSeconds(c.warmup)+30*time.Second); err != nil {
		return serverCell{}, fmt.Errorf("warm-up: %w", err)
	}
	pid := srv.proc.PID()
	before, err := procstat.SampleTree(pid)
	if err != nil {
		return serverCell{}, fmt.Errorf("sample %s before: %w", srv.name, err)
	}
	run, err := runPinned(wrkCommand(c.wrk, c.connections, c.duration, srv.url()), nil, c.clientCPUs, wrkSeconds(c.duration)+30*time.Second)
	if err != nil {
		return serverCell{}, err
	}
	after, err := procstat.SampleTree(pid)
	if err != nil {
		return serverCell{}, fmt.Errorf("sample %s after (did it crash?): %w", srv.name, err)
	}
	if err := keepRaw(c.rawDir, fmt.Sprintf("servers-%s-round%d.txt", srv.name, round), run.output); err != nil {
		return serverCell{}, err
	}
	sum, err := parseSummary(run.output)
	if err != nil {
		return serverCell{}, fmt.Errorf("wrk against %s: %w", srv.name, err)
	}
	if sum.requests == 0 {
		return serverCell{}, fmt.Errorf("wrk against %s completed no requests", srv.name)
	}
	return serverCell{summary: sum, server: after.Sub(before), client: run.cost}, nil
}

// keepRaw stores a load generator's output untouched, when asked to.
func keepRaw(dir, name, output string) error {
	if dir == "" {
		return nil
	}
	// A contestant from another build is named MODEL@path/to/binary.
	name = strings.ReplaceAll(name, "/", "_")
	if err := os.WriteFile(filepath.Join(dir, name), []byte(output), 0o644); err != nil {
		return fmt.Errorf("keep raw output: %w", err)
	}
	return nil
}

// clipOutput keeps an error message to its first lines.
func clipOutput(s string) string {
	s = strings.TrimSpace(s)
	if lines := strings.SplitN(s, "\n", 4); len(lines) > 3 {
		s = strings.Join(lines[:3], " | ") + " …"
	} else {
		s = strings.Join(lines, " | ")
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
