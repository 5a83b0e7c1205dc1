package runner

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/verify"
)

// runRep measures one repetition of a cell against a fresh server. A
// server that fails at any step gives a failed result with the step and
// the reason; nil means ctx ended first and there is nothing to keep.
func (r *run) runRep(ctx context.Context, cell *results.Cell, rep int) *results.Rep {
	res := &results.Rep{Cell: cell.ID, Rep: rep, Started: time.Now().UTC()}
	fail := func(stage results.Stage, format string, args ...any) *results.Rep {
		if ctx.Err() != nil {
			return nil
		}
		res.Status, res.Stage, res.Reason = results.Failed, stage, fmt.Sprintf(format, args...)
		res.Finished = time.Now().UTC()
		return res
	}
	dir, err := os.MkdirTemp("", "sockbench-"+cell.Server.Name+"-")
	if err != nil {
		return fail(results.StageStart, "create the server's folder: %v", err)
	}
	defer os.RemoveAll(dir)
	stream := cell.Load.Mode == string(loadgen.Stream)
	r.event(Event{Kind: StageStarted, Cell: cell, Rep: rep, Stage: results.StageStart})
	p, err := start(launch{server: cell.Server, cpus: r.m.Plan.CPUs.Server, stream: stream, exe: r.exe, dir: dir, runID: r.m.RunID, addr: r.serverAddr()})
	if err != nil {
		return fail(results.StageStart, "%v", err)
	}
	stopLimit := r.m.Plan.StopTimeout.D()
	defer p.Stop(stopLimit)
	res.Command = p.Argv()
	r.event(Event{Kind: StageStarted, Cell: cell, Rep: rep, Stage: results.StageReady, PID: p.PID()})
	if err := p.waitReady(ctx, cell.Server, r.m.Plan.StartTimeout.D()); err != nil {
		return fail(results.StageReady, "%v", err)
	}
	target, err := targetURL(p.url, cell.Load.Path)
	if err != nil {
		return fail(results.StageReady, "server URL %q: %v", p.url, err)
	}
	res.URL = target
	if !stream {
		r.event(Event{Kind: StageStarted, Cell: cell, Rep: rep, Stage: results.StageVerify, PID: p.PID()})
		report, err := verify.Run(ctx, target, verify.Options{Timeout: cell.Server.Verify.Timeout.D(), Skip: cell.Server.Verify.Skip})
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return fail(results.StageVerify, "%v", err)
		case !report.OK():
			res.VerifyFailures = report.Failures()
			return fail(results.StageVerify, "failed %s", describeFailures(report))
		case p.HasExited():
			return fail(results.StageVerify, "exited during the conformance check (%s): %s", p.ExitText(), p.OutputLine())
		}
	}

	r.event(Event{Kind: StageStarted, Cell: cell, Rep: rep, Stage: results.StageLoad, PID: p.PID()})
	load, window, machine, loadErr := r.measure(ctx, cell, rep, p, target)
	// A window another process shared is measured again, warm-up and
	// all, on the same server, as often as the plan allows.
	for retries := r.m.Plan.Interference.Retries; machine != nil && machine.Busy && loadErr == nil && retries > 0 && !p.HasExited(); retries-- {
		r.event(Event{Kind: Remeasuring, Cell: cell, Rep: rep, PID: p.PID(), Machine: machine})
		earlier := append(machine.Earlier, *machine)
		earlier[len(earlier)-1].Earlier = nil
		load, window, machine, loadErr = r.measure(ctx, cell, rep, p, target)
		if machine != nil {
			machine.Earlier, machine.Attempts = earlier, len(earlier)+1
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	res.Load = load
	res.Machine = machine
	crashed := p.HasExited()
	stoppedCleanly := p.Stop(stopLimit) == nil
	srv := &results.Server{PID: p.PID(), Exit: p.ExitText(), Output: p.Output()}
	res.Server = srv
	if !stoppedCleanly {
		srv.Exit = fmt.Sprintf("killed: it did not stop within %v of SIGTERM", stopLimit)
	}
	if window != nil {
		srv.WindowSeconds = window.Wall.Seconds()
		srv.CPUUserSeconds, srv.CPUSysSeconds = window.User.Seconds(), window.System.Seconds()
		srv.RSSBytes, srv.Threads, srv.Processes = window.RSS, window.Threads, window.Processes
		srv.VoluntarySwitches, srv.InvoluntarySwitches = window.VoluntarySwitches, window.InvoluntarySwitches
	}
	if st, err := p.stats(); err != nil {
		srv.StatsError = err.Error()
	} else {
		srv.Stats = st
	}
	switch {
	case crashed:
		return fail(results.StageLoad, "the server exited during the measurement (%s): %s", srv.Exit, p.OutputLine())
	case loadErr != nil:
		return fail(results.StageLoad, "%v", loadErr)
	case stream && load.BytesWritten == 0:
		return fail(results.StageLoad, "no byte was written to the sink (%s)", describeErrors(load.Errors))
	case !stream && load.Requests == 0:
		return fail(results.StageLoad, "no request succeeded (%d failed: %s)", load.Errors.Total(), describeErrors(load.Errors))
	case !stoppedCleanly:
		// A server that ignores SIGTERM was hung, most likely during
		// the window too: its numbers are not ones to compare.
		return fail(results.StageStop, "the server did not stop within %v of SIGTERM and was killed; it may have hung while measured (%s)", stopLimit, describeErrors(load.Errors))
	}
	res.Status = results.OK
	res.Finished = time.Now().UTC()
	res.PerRequest = res.Cost(nil)
	return res
}

// measure runs the warm-up and the measured window, sampling the server
// from /proc when the window opens and when it closes. A server that
// exits ends the attack at once.
func (r *run) measure(ctx context.Context, cell *results.Cell, rep int, p *serverProcess, target string) (*loadgen.Result, *procstat.Delta, *results.MachineLoad, error) {
	l := cell.Load
	// Bounded even if the engine overran its window: the runner never
	// hangs on one cell.
	limit := l.Warmup.D() + l.Duration.D() + 2*l.Timeout.D() + 10*time.Second
	lctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	go func() {
		select {
		case <-p.Exited():
			cancel()
		case <-lctx.Done():
		}
	}()
	// The server and the machine are sampled as the load generator's
	// window opens and closes, locally and with agents alike.
	type sample struct {
		server             procstat.Snapshot
		machine            machineSample
		serverErr, machErr error
	}
	take := func() sample {
		s, err := procstat.SampleTree(p.PID())
		m, merr := sampleMachine()
		return sample{s, m, err, merr}
	}
	var edges []sample
	opts := l.Options(r.loadURL(target))
	// WatchWindow calls it from one goroutine, and has returned by the
	// time the load has.
	opts.OnWindow = func(bool) { edges = append(edges, take()) }
	opts.Progress = func(s loadgen.Second) {
		r.event(Event{Kind: Measured, Cell: cell, Rep: rep, Second: s, PID: p.PID()})
	}
	res, err := r.load(lctx, opts)
	if err == nil && lctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("the load generator ran past its window by %v and was stopped", limit-l.Warmup.D()-l.Duration.D())
	}
	if len(edges) != 2 || edges[0].serverErr != nil || edges[1].serverErr != nil {
		return res, nil, nil, err
	}
	before, after := edges[0], edges[1]
	d := after.server.Sub(before.server)
	var machine *results.MachineLoad
	if before.machErr == nil && after.machErr == nil {
		machine = machineLoad(before.machine, after.machine, p.PID(), r.m.Plan.CPUs, float64(r.m.Plan.Interference.Max))
	}
	return res, &d, machine, err
}

// describeFailures names the failed conformance cases and why, briefly.
func describeFailures(rep verify.Report) string {
	fs := rep.Failures()
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, f.Name+": "+f.Reason)
	}
	const shown = 3
	more := ""
	if len(parts) > shown {
		more = fmt.Sprintf("; and %d more", len(parts)-shown)
		parts = parts[:shown]
	}
	return fmt.Sprintf("%d of %d conformance cases (%s%s)", len(fs), len(rep.Results), strings.Join(parts, "; "), more)
}

func describeErrors(e loadgen.Errors) string {
	counts := results.ErrorCounts(e)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "no errors counted either"
	}
	return strings.Join(parts, ", ")
}
