package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
)

// calibrationWindow bounds the calibration's attack; it normally ends
// much sooner, when the fixed number of requests has been answered.
const calibrationWindow = 30 * time.Second

// calibrate counts the syscalls a cell's server makes per request: the
// server runs under `strace -c -f` (every thread, every child) and
// answers a fixed number of requests. Tracing slows it down many times,
// which is why this is a pass of its own and never a measured repetition.
// The count includes start-up and shutdown, a few hundred syscalls, which
// the number of requests is chosen to dwarf.
func (r *run) calibrate(ctx context.Context, cell *results.Cell) *results.Calibration {
	cal := &results.Calibration{Cell: cell.ID}
	fail := func(format string, args ...any) *results.Calibration {
		cal.Error = fmt.Sprintf(format, args...)
		return cal
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		return fail("strace is not installed (Debian: apt-get install strace)")
	}
	if _, err := results.MakeCellDir(r.dir, cell.ID); err != nil {
		return fail("%v", err)
	}
	// strace opens its table following links.
	table, err := results.FileOfRun(results.StraceOutputPath(r.dir, cell.ID))
	if err != nil {
		return fail("%v", err)
	}
	dir, err := os.MkdirTemp("", "sockbench-strace-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	p, err := start(launch{
		server: cell.Server, cpus: r.m.Plan.CPUs.Server, exe: r.exe, dir: dir, runID: r.m.RunID,
		wrapper: []string{strace, "-c", "-f", "-o", table, "--"},
	})
	if err != nil {
		return fail("%v", err)
	}
	limit := r.m.Plan.StopTimeout.D()
	defer p.Stop(limit)
	r.event(Event{Kind: StageStarted, Cell: cell, Stage: results.StageReady, PID: p.PID()})
	// Tracing slows the start as much as everything else.
	if err := p.waitReady(ctx, cell.Server, 5*r.m.Plan.StartTimeout.D()); err != nil {
		return fail("%v", err)
	}
	target, err := targetURL(p.url, cell.Load.Path)
	if err != nil {
		return fail("%v", err)
	}
	opts := cell.Load.Options(target)
	opts.Warmup, opts.Duration, opts.MaxRequests = 0, calibrationWindow, r.m.Plan.Calibrate.Requests
	lctx, cancel := context.WithTimeout(ctx, calibrationWindow+2*opts.Timeout+10*time.Second)
	defer cancel()
	r.event(Event{Kind: StageStarted, Cell: cell, Stage: results.StageLoad, PID: p.PID()})
	res, err := loadgen.Run(lctx, opts)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fail("%v", err)
	}
	// Stop the traced server, not strace: strace then writes its table
	// when its last tracee is gone and exits by itself.
	tracee := childOf(p.PID())
	if tracee == 0 || p.StopBy(tracee, limit) != nil {
		return fail("the traced server did not stop within %v of SIGTERM: %s", limit, p.OutputLine())
	}
	cal.Requests = res.Requests
	if st, err := p.stats(); err == nil && st != nil {
		// The server's own count includes requests answered while the
		// attack was stopping.
		cal.Requests = int64(st.Requests)
	}
	cal.ByName, cal.Syscalls, err = parseStraceTable(table)
	if err != nil {
		return fail("%v", err)
	}
	if cal.Requests == 0 {
		return fail("no request was answered under strace (%s)", describeErrors(res.Errors))
	}
	return cal
}

// childOf returns the first child process of pid, 0 if none.
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	child, _ := strconv.Atoi(f[0])
	return child
}

// parseStraceTable reads the table of `strace -c` that strace wrote to
// path.
func parseStraceTable(path string) (map[string]uint64, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("strace wrote no table: %w", err)
	}
	defer f.Close()
	return readStraceTable(f, path)
}

// readStraceTable reads the table of `strace -c`: after a header and a
// rule, one line per syscall — % time, seconds, usecs/call, calls, an
// errors column that is blank when there were none, the name — and a
// "total" line. name names the table in errors.
func readStraceTable(r io.Reader, name string) (map[string]uint64, uint64, error) {
	byName := map[string]uint64{}
	var total uint64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || len(fields) > 6 {
			continue
		}
		if _, err := strconv.ParseFloat(fields[0], 64); err != nil {
			continue
		}
		syscall := fields[len(fields)-1]
		calls, err := strconv.ParseUint(fields[3], 10, 64)
		if err != nil || syscall == "total" {
			continue
		}
		byName[syscall] += calls
		total += calls
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", name, err)
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("%s holds no syscall counts", name)
	}
	return byName, total, nil
}
