// Package runner executes a run: the cells of an expanded configuration
// (package config), repetition by repetition in interleaved order, each
// against a freshly started server pinned to its CPUs, checked with
// package verify, then measured with package loadgen while /proc says
// what the server cost. Every repetition's result is written atomically
// as soon as it exists (package results), so an interrupted or crashed run
// keeps what it finished and Resume runs only the rest. The report is not
// the runner's business: its caller builds it from the stored results.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/runner/results"
)

// Options tune how a run is carried out; the zero value is usable.
type Options struct {
	// Output overrides the plan's output folder (the --out flag).
	Output string
	// ConfigFile and ConfigText are the configuration as given, stored in
	// the manifest (Run only; a resume keeps the stored ones).
	ConfigFile, ConfigText string
	// Executable is the sockbench binary built-in servers are started
	// from: `Executable serve MODEL ...`. Empty means this process's own.
	Executable string
	// SourceDir is the source tree whose git commit the manifest records;
	// empty means the working directory.
	SourceDir string
	// Out receives what a person watching should read: where the results
	// go, warnings, failures as they happen. nil discards.
	Out io.Writer
	// Live adds a progress line rewritten in place on Out (a terminal).
	Live bool
	// WaitForCPUs is how long a run waits for CPUs another run holds
	// before it gives up; zero refuses at once.
	WaitForCPUs time.Duration
	// Observe, when set, is told of every step as it happens, on the
	// runner's own goroutine or the load generator's; it must not block.
	Observe func(Event)
	// Agents makes the load generator of a plan whose load comes from
	// agents (load_from: agents): the runner calls it once a session,
	// before the first cell, measures every window with the Load it
	// returns, and calls the stop it returns (when not nil: agents it
	// started, over SSH) when the session ends, however it ends. Without
	// it such a plan is refused.
	Agents func(ctx context.Context, a results.Agents) (Load, func(), error)
	// Trust is asked, when a resume was given no configuration, whether
	// to run the programs the results folder's stored plan names (its
	// external servers' commands, SSH hosts to start agents on): such a
	// folder may come from someone else. It returns an error to refuse;
	// nil Trust refuses.
	Trust func(programs []string) error
}

// Load drives one measured window: loadgen.Run, or a coordinator's Run
// on agents.
type Load func(ctx context.Context, o loadgen.Options) (*loadgen.Result, error)

// Summary is how a run ended.
type Summary struct {
	Dir    string
	RunID  string
	Status results.Status
	// Failed counts repetitions with a failed result; Unfinished those
	// with none; FailedCalibrations the strace passes that counted
	// nothing.
	Failed, Unfinished, FailedCalibrations int
}

// OK reports whether every planned repetition ran and succeeded.
func (s *Summary) OK() bool {
	return s.Status == results.Complete && s.Failed == 0 && s.Unfinished == 0 && s.FailedCalibrations == 0
}

// Run starts a new run of plan: it creates <output>/<run-id>/, points
// <output>/latest at it and executes every cell. Cancelling ctx stops it
// after the current step; the summary then says what did not finish.
func Run(ctx context.Context, plan *results.Plan, opts Options) (*Summary, error) {
	// CPUs and pinning first: a CPU set another run holds, or one this
	// process cannot have, ends the run before it leaves a folder behind.
	unlock, err := opts.lockCPUs(plan, fmt.Sprintf("a run of %s (pid %d)", plan.Name, os.Getpid()))
	if err != nil {
		return nil, err
	}
	defer unlock()
	restore, err := pinLoad(plan.CPUs.Load.CPUs)
	if err != nil {
		return nil, err
	}
	defer restore()
	output := plan.Output
	if opts.Output != "" {
		output = opts.Output
	}
	// Servers run in folders of their own; every path handed to them
	// (strace's table) must not depend on the working directory.
	output, err = filepath.Abs(output)
	if err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	if err := os.MkdirAll(output, 0o755); err != nil {
		return nil, fmt.Errorf("create results folder: %w", err)
	}
	id, dir, err := newRunDir(output, plan.Name, time.Now())
	if err != nil {
		return nil, err
	}
	runLock, err := lockRun(dir, id)
	if err != nil {
		return nil, err
	}
	defer runLock.release()
	m := &results.Manifest{
		RunID: id, Status: results.Running, Started: stamp(time.Now()),
		ConfigFile: opts.ConfigFile, ConfigText: opts.ConfigText, Plan: *plan,
	}
	if opts.ConfigText != "" {
		if err := os.WriteFile(filepath.Join(dir, results.ConfigName), []byte(opts.ConfigText), 0o644); err != nil {
			return nil, fmt.Errorf("store the configuration: %w", err)
		}
	}
	if err := results.LinkLatest(output, id); err != nil {
		return nil, err
	}
	return execute(ctx, dir, m, opts)
}

// Resume carries on the run in dir: it runs the repetitions that have no
// result or a failed one (and any missing calibration).
func Resume(ctx context.Context, dir string, opts Options) (*Summary, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	m, err := results.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	runLock, err := lockRun(dir, m.RunID)
	if err != nil {
		return nil, err
	}
	defer runLock.release()
	if opts.ConfigText != "" && opts.ConfigText != m.ConfigText {
		return nil, fmt.Errorf("%s differs from the configuration run %s was started with (%s); resume without it, or start a new run", opts.ConfigFile, m.RunID, m.ConfigFile)
	}
	plan, err := replan(m)
	if err != nil {
		return nil, err
	}
	m.Plan = *plan
	if programs := Programs(plan); opts.ConfigText == "" && len(programs) > 0 {
		refuse := fmt.Errorf("the stored plan of %s runs programs of its own (%s); resume with the configuration you started it from (run --resume %s CONFIG), or confirm with --yes", dir, strings.Join(programs, "; "), dir)
		if opts.Trust == nil {
			return nil, refuse
		}
		if err := opts.Trust(programs); err != nil {
			return nil, err
		}
	}
	unlock, err := opts.lockCPUs(plan, holderText(m.RunID, dir))
	if err != nil {
		return nil, err
	}
	defer unlock()
	restore, err := pinLoad(m.Plan.CPUs.Load.CPUs)
	if err != nil {
		return nil, err
	}
	defer restore()
	return execute(ctx, dir, m, opts)
}

// Programs lists what a plan runs besides sockbench's own servers: the
// command of every external server, the SSH hosts agents are started on.
func Programs(p *results.Plan) []string {
	var progs []string
	add := func(s string) {
		if !slices.Contains(progs, s) {
			progs = append(progs, s)
		}
	}
	for _, c := range p.Cells {
		if c.Server.External() {
			add(c.Server.Name + ": " + strings.Join(c.Server.Command, " "))
		}
	}
	if c := p.Control; c != nil && c.Cell.Server.External() {
		add(c.Cell.Server.Name + ": " + strings.Join(c.Cell.Server.Command, " "))
	}
	if a := p.Agents; a != nil {
		for _, h := range a.SSH {
			add("an agent over SSH on " + h)
		}
	}
	return progs
}

// replan makes the run's plan again from its stored configuration, with
// every check a new run makes, and refuses when the stored plan differs: a
// results folder is data someone may have sent, and only a configuration
// is code that runs (a command, files written, the model measured).
func replan(m *results.Manifest) (*results.Plan, error) {
	if m.ConfigText == "" {
		return nil, fmt.Errorf("run %s has no stored configuration to check its plan against; start a new run", m.RunID)
	}
	plan, err := config.Parse(m.ConfigFile, []byte(m.ConfigText))
	if err != nil {
		return nil, fmt.Errorf("the configuration run %s was started with no longer passes the checks: %w", m.RunID, err)
	}
	if where, stored, made := firstDifference(m.Plan, *plan); where != "" {
		return nil, fmt.Errorf("run %s's stored plan is not what its configuration makes: at %s it holds %s, the configuration gives %s; resume refuses to run a plan its configuration does not make (start a new run from the configuration)", m.RunID, where, stored, made)
	}
	return plan, nil
}

// firstDifference compares two values through their JSON form and returns
// the path of the first difference with both sides as JSON text; "" when
// they are the same.
func firstDifference(a, b any) (path, av, bv string) {
	var x, y any
	for _, p := range []struct {
		v   any
		dst *any
	}{{a, &x}, {b, &y}} {
		data, err := json.Marshal(p.v)
		if err != nil {
			return "(the whole plan)", err.Error(), ""
		}
		json.Unmarshal(data, p.dst)
	}
	return diffJSON("plan", x, y)
}

func diffJSON(path string, x, y any) (string, string, string) {
	if x == nil {
		// A field the stored plan lacks (written by an older sockbench):
		// what runs is the plan made again, so nothing is taken from it.
		return "", "", ""
	}
	switch xv := x.(type) {
	case map[string]any:
		if yv, ok := y.(map[string]any); ok {
			keys := maps.Clone(xv)
			maps.Copy(keys, yv)
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				if p, a, b := diffJSON(path+"."+k, xv[k], yv[k]); p != "" {
					return p, a, b
				}
			}
			return "", "", ""
		}
	case []any:
		if yv, ok := y.([]any); ok && len(xv) == len(yv) {
			for i := range xv {
				if p, a, b := diffJSON(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i]); p != "" {
					return p, a, b
				}
			}
			return "", "", ""
		}
	}
	if reflect.DeepEqual(x, y) {
		return "", "", ""
	}
	return path, jsonText(x), jsonText(y)
}

func jsonText(v any) string {
	if v == nil {
		return "nothing"
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// Describe writes what Run would do with plan — its cells in run order
// and the warnings about this machine — without running anything.
func Describe(w io.Writer, plan *results.Plan) error {
	fmt.Fprintf(w, "%d cells × %s; server on CPUs %s, load generator on CPUs %s\n", len(plan.Cells), describeRepetitions(plan), plan.CPUs.Server.Text, plan.CPUs.Load.Text)
	for _, c := range plan.Cells {
		fmt.Fprintf(w, "  %s\n", c.ID)
	}
	if c := plan.Control; c != nil {
		fmt.Fprintf(w, "  %s: the drift control, at the start, after every %d repetitions and at the end\n", c.Cell.ID, c.Every)
	}
	fmt.Fprintf(w, "estimated time: %s (warm-up and window of every repetition, plus about %s each to start, verify and stop a server; strace passes not included)\n",
		EstimatedTime(plan).Round(time.Second), repOverhead)
	for _, warning := range warnings(plan, readMachine(".")) {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	return nil
}

// repOverhead is what a repetition takes besides its warm-up and window:
// starting the server, the conformance check and stopping it, as measured
// for the Go and the Python servers on a 2-core VM (a run's own start
// and report spread over its repetitions included).
const repOverhead = 500 * time.Millisecond

// EstimatedTime is how long the plan's repetitions take to measure, at
// their least (adaptive rounds may add more), the drift control included.
func EstimatedTime(p *results.Plan) time.Duration {
	var total time.Duration
	reps := 0
	for _, c := range p.Cells {
		total += time.Duration(p.Repetitions) * (c.Load.Warmup.D() + c.Load.Duration.D() + repOverhead)
		reps += p.Repetitions
	}
	if c := p.Control; c != nil && c.Every > 0 {
		// At the start, then after every Every repetitions and at the end.
		measurements := 1 + (reps+c.Every-1)/c.Every
		total += time.Duration(measurements) * (c.Cell.Load.Warmup.D() + c.Cell.Load.Duration.D() + repOverhead)
	}
	return total
}

func describeRepetitions(p *results.Plan) string {
	if a := p.Adaptive; a != nil {
		return fmt.Sprintf("%d to %d repetitions (until the %.0f%% interval of the median is within ±%.1f%%)", p.Repetitions, a.Max, 100*Confidence, 100*float64(a.CI))
	}
	return fmt.Sprintf("%d repetitions", p.Repetitions)
}

// newRunDir creates the run's folder, named by the time and the plan's
// name; a second run in the same second gets a suffix.
func newRunDir(output, name string, now time.Time) (string, string, error) {
	base := now.Format("20060102-150405") + "-" + name
	for i := 1; i < 100; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		dir := filepath.Join(output, id)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return id, dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", "", fmt.Errorf("create the run folder: %w", err)
		}
	}
	return "", "", fmt.Errorf("create the run folder: %s-* all exist", filepath.Join(output, base))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// job is one repetition of one cell, or a cell's calibration (rep 0).
type job struct {
	cell *results.Cell
	rep  int
}

func (j job) calibration() bool { return j.rep == 0 }

// schedule lists what is left to do in interleaved order: repetition 1 of
// every cell, then repetition 2, ..., so that a drift of the machine over
// the run spreads over all cells instead of favouring the ones measured
// first; then the calibrations. done says whether a job already has a
// good result.
func schedule(plan *results.Plan, done func(job) bool) []job {
	var jobs []job
	for rep := 1; rep <= plan.Repetitions; rep++ {
		for i := range plan.Cells {
			if j := (job{&plan.Cells[i], rep}); !done(j) {
				jobs = append(jobs, j)
			}
		}
	}
	if plan.Calibrate.Strace {
		for i := range plan.Cells {
			c := &plan.Cells[i]
			if j := (job{c, 0}); c.Load.Mode != string(loadgen.Stream) && !done(j) {
				jobs = append(jobs, j)
			}
		}
	}
	return jobs
}

// run is the state of one invocation.
type run struct {
	// sinceControl counts the repetitions since the drift control was
	// last measured.
	sinceControl int
	dir          string
	m            *results.Manifest
	opts         Options
	exe          string
	session      *results.Session
	show         *display
	// load measures the windows (loadgen.Run unless the plan's load
	// comes from agents).
	load Load
}

func execute(ctx context.Context, dir string, m *results.Manifest, opts Options) (*Summary, error) {
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the sockbench binary to start servers with: %w", err)
		}
	}
	src := opts.SourceDir
	if src == "" {
		src = "."
	}
	r := &run{dir: dir, m: m, opts: opts, exe: exe, load: loadgen.Run}
	if m.Plan.LoadFrom == "agents" {
		if opts.Agents == nil || m.Plan.Agents == nil {
			return nil, errors.New("the plan's load comes from agents, and this runner was given no way to reach them")
		}
		load, stop, err := opts.Agents(ctx, *m.Plan.Agents)
		if err != nil {
			return nil, fmt.Errorf("agents: %w", err)
		}
		if stop != nil {
			defer stop()
		}
		r.load = completeOnly(load)
	}
	r.show = newDisplay(opts.Out, opts.Live)
	reapOrphans(r.show.say)
	// This session holds the run's lock: one still marked running was a
	// runner that died without a word (kill -9, a crash).
	for i := range m.Sessions {
		if m.Sessions[i].Status == results.Running {
			m.Sessions[i].Status = results.Died
		}
	}
	mach := readMachine(src)
	if len(m.Sessions) == 0 {
		mach.Interpreters = interpreters(&m.Plan)
		m.Machine = mach
		m.Warnings = warnings(&m.Plan, mach)
	} else if mach.GitCommit != m.Machine.GitCommit || mach.Kernel != m.Machine.Kernel {
		r.show.say("warning: resuming on commit %s, kernel %s; the run started on commit %s, kernel %s", mach.GitCommit, mach.Kernel, m.Machine.GitCommit, m.Machine.Kernel)
	}
	started := stamp(time.Now())
	if len(m.Sessions) == 0 && m.Started != "" {
		// The run's first session starts with the run: two readings of
		// the clock a second boundary apart told them apart.
		started = m.Started
	}
	m.Sessions = append(m.Sessions, results.Session{Started: started, Status: results.Running, GitCommit: mach.GitCommit})
	r.session = &m.Sessions[len(m.Sessions)-1]
	m.Status = results.Running
	// Recomputed at the end; while running, a missing result speaks for
	// itself, and a stale list would name repetitions this session redid.
	m.Unfinished = nil

	jobs := schedule(&m.Plan, r.done)
	reps := 0
	for _, j := range jobs {
		if !j.calibration() {
			reps++
		}
	}
	r.show.say("run %s: %d cells × %s; %d to run, results in %s", m.RunID, len(m.Plan.Cells), describeRepetitions(&m.Plan), reps, dir)
	for _, w := range m.Warnings {
		r.show.say("warning: %s", w)
	}
	if err := results.WriteManifest(dir, m); err != nil {
		return nil, err
	}

	// Calibrations come after every repetition, the adaptive rounds too.
	split := slices.IndexFunc(jobs, job.calibration)
	if split < 0 {
		split = len(jobs)
	}
	status, stopReason, runErr := results.Complete, "", error(nil)
	if m.Plan.Control != nil && split > 0 {
		status, stopReason, runErr = r.measureControl(ctx)
	}
	if status == results.Complete {
		status, stopReason, runErr = r.work(ctx, jobs[:split])
	}
	if status == results.Complete && m.Plan.Adaptive != nil {
		status, stopReason, runErr = r.adaptiveRounds(ctx)
	}
	if status == results.Complete && r.sinceControl > 0 {
		status, stopReason, runErr = r.measureControl(ctx)
	}
	if status == results.Complete {
		status, stopReason, runErr = r.work(ctx, jobs[split:])
	}

	r.show.clear()
	m.Status = status
	m.Finished = stamp(time.Now())
	r.session.Finished, r.session.Status = m.Finished, status
	sum := &Summary{Dir: dir, RunID: m.RunID, Status: status}
	m.Unfinished = nil
	for rep := 1; rep <= m.Plan.Repetitions; rep++ {
		for _, c := range m.Plan.Cells {
			res, err := results.ReadRep(dir, c.ID, rep)
			switch {
			case err == nil && res.Status == results.Failed:
				sum.Failed++
			case err != nil:
				m.Unfinished = append(m.Unfinished, results.Unfinished{Cell: c.ID, Rep: rep, Reason: stopReason})
				sum.Unfinished++
			}
		}
	}
	if m.Plan.Calibrate.Strace {
		for _, c := range m.Plan.Cells {
			if c.Load.Mode == string(loadgen.Stream) {
				continue
			}
			if cal, err := results.ReadCalibration(dir, c.ID); err != nil || cal == nil || cal.Error != "" {
				sum.FailedCalibrations++
			}
		}
	}
	if err := results.WriteManifest(dir, m); err != nil {
		return sum, errors.Join(runErr, err)
	}
	return sum, runErr
}

// done says whether a job already has a result that need not be redone.
func (r *run) done(j job) bool {
	if j.calibration() {
		c, err := results.ReadCalibration(r.dir, j.cell.ID)
		return err == nil && c != nil && c.Error == ""
	}
	res, err := results.ReadRep(r.dir, j.cell.ID, j.rep)
	return err == nil && res.Status == results.OK
}

// work runs the jobs until they are done, ctx ends or a result cannot be
// stored. It returns the run's status and, for repetitions that will have
// no result, why.
func (r *run) work(ctx context.Context, jobs []job) (results.Status, string, error) {
	r.show.plan(jobs)
	for i, j := range jobs {
		if ctx.Err() != nil {
			return results.Interrupted, "the run was interrupted before it", nil
		}
		r.show.starting(i, j)
		if j.calibration() {
			cal := r.calibrate(ctx, j.cell)
			if ctx.Err() != nil {
				return results.Interrupted, "the run was interrupted before it", nil
			}
			if err := results.WriteCalibration(r.dir, cal); err != nil {
				return results.Aborted, "the run stopped: " + err.Error(), err
			}
			r.show.calibrated(j, cal)
			continue
		}
		res, status, reason, err := r.store(ctx, j)
		if res == nil {
			return status, reason, err
		}
		r.show.finished(j, res)
		if c := r.m.Plan.Control; c != nil {
			if r.sinceControl++; r.sinceControl >= c.Every {
				if status, reason, err := r.measureControl(ctx); status != results.Complete {
					return status, reason, err
				}
			}
		}
	}
	return results.Complete, "", nil
}

// store measures one repetition and writes its result; a nil result comes
// with the status and reason the run stops with.
func (r *run) store(ctx context.Context, j job) (*results.Rep, results.Status, string, error) {
	res := r.runRep(ctx, j.cell, j.rep)
	if res == nil {
		// Interrupted while it ran: a partial window is not a result.
		return nil, results.Interrupted, "the run was interrupted during or before it", nil
	}
	if err := results.WriteRep(r.dir, res); err != nil {
		return nil, results.Aborted, "the run stopped when a result could not be written: " + err.Error(), err
	}
	r.session.Reps++
	if err := results.WriteManifest(r.dir, r.m); err != nil {
		return nil, results.Aborted, "the run stopped: " + err.Error(), err
	}
	if r.opts.Observe != nil {
		r.opts.Observe(Event{Kind: RepFinished, Cell: j.cell, Rep: j.rep, Result: res})
	}
	return res, results.Complete, "", nil
}

// measureControl measures the drift control once more: its repetitions
// are numbered in the order they were measured, over every session.
func (r *run) measureControl(ctx context.Context) (results.Status, string, error) {
	r.sinceControl = 0
	c := &r.m.Plan.Control.Cell
	rep := 1
	for r.exists(c.ID, rep) {
		rep++
	}
	res, status, reason, err := r.store(ctx, job{c, rep})
	if res == nil {
		return status, reason, err
	}
	if res.Status == results.Failed {
		r.show.say("control %s %d: FAILED at %s: %s", c.ID, rep, res.Stage, res.Reason)
	} else {
		r.show.say("control %s %d: %.0f req/s, %.2f µs CPU per request", c.ID, rep, res.Load.RequestsPerS, res.Cost(nil).CPUTotalUS)
	}
	return results.Complete, "", nil
}

// exists says whether a repetition has a result file, good or failed.
func (r *run) exists(cell string, rep int) bool {
	_, err := results.ReadRep(r.dir, cell, rep)
	return err == nil
}

// pinLoad pins this process — the load generator — to its CPUs for the
// whole run and sizes the Go runtime for them; the returned function
// undoes both.
func pinLoad(cpus []int) (func(), error) {
	before, err := affinity.Allowed(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read this process's CPUs: %w", err)
	}
	if err := affinity.PinSelf(cpus); err != nil {
		return nil, fmt.Errorf("pin the load generator to CPUs %s: %w", affinity.FormatCPUList(cpus), err)
	}
	procs := runtime.GOMAXPROCS(len(cpus))
	return func() {
		runtime.GOMAXPROCS(procs)
		affinity.PinSelf(before)
	}, nil
}
