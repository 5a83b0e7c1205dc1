package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// StageStarted: a repetition entered Stage (PID is known from
	// StageReady on).
	StageStarted EventKind = iota
	// Measured: a second of the measured window ended (Second).
	Measured
	// RepFinished: a repetition's result was stored (Result).
	RepFinished
	// Remeasuring: the window just measured shared its CPUs with other
	// work (Machine), and is measured again.
	Remeasuring
)

// Event is one step of a run, for progress displays and tests.
type Event struct {
	Kind    EventKind
	Cell    *results.Cell
	Rep     int
	Stage   results.Stage
	PID     int
	Second  loadgen.Second
	Result  *results.Rep
	Machine *results.MachineLoad
}

func (r *run) event(e Event) {
	r.show.event(e)
	if r.opts.Observe != nil {
		r.opts.Observe(e)
	}
}

// display writes what a person watching a run reads: failures as they
// happen and, on a terminal, one status line rewritten in place with the
// current cell, its live requests/s, how many repetitions are done and
// roughly how long the rest will take.
type display struct {
	mu   sync.Mutex
	w    io.Writer
	live bool

	jobs    []job
	current int
	started time.Time
	// planned is the warm-up and measured time of each job; overhead the
	// time a repetition takes beyond it (start, verify, stop), learnt as
	// the run goes.
	planned   []time.Duration
	overhead  time.Duration
	completed int
	stage     string
	rps       int64
	shown     bool
}

func newDisplay(w io.Writer, live bool) *display {
	if w == nil {
		w = io.Discard
	}
	return &display{w: w, live: live, overhead: 2 * time.Second}
}

// say prints a line of its own.
func (d *display) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clearLocked()
	fmt.Fprintf(d.w, format+"\n", args...)
	d.drawLocked()
}

func (d *display) plan(jobs []job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.jobs = jobs
	d.planned = make([]time.Duration, len(jobs))
	for i, j := range jobs {
		d.planned[i] = j.cell.Load.Warmup.D() + j.cell.Load.Duration.D()
	}
}

func (d *display) starting(i int, j job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.current, d.started, d.rps, d.stage = i, time.Now(), 0, "starting"
	if j.calibration() {
		d.stage = "strace calibration"
	}
	d.drawLocked()
}

func (d *display) event(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case StageStarted:
		d.stage = string(e.Stage)
		if e.Stage == results.StageLoad {
			d.stage = "warm-up"
		}
	case Measured:
		d.stage, d.rps = "measuring", e.Second.Requests
	case Remeasuring:
		d.clearLocked()
		fmt.Fprintf(d.w, "%s rep %d: machine busy (%s), measuring again\n", e.Cell.ID, e.Rep, describeMachine(e.Machine))
	}
	d.drawLocked()
}

func (d *display) finished(j job, res *results.Rep) {
	label := fmt.Sprintf("%s rep %d", j.cell.ID, j.rep)
	if res.Status == results.Failed {
		d.ended(true, "%s: FAILED at %s: %s", label, res.Stage, res.Reason)
		return
	}
	busy := ""
	if m := res.Machine; m != nil && m.Busy {
		busy = "; MACHINE BUSY (" + describeMachine(m) + ")"
	}
	// A server that closes after its answers would look, to a wrk user,
	// as if it failed: say that it closed, apart from the errors.
	closes := ""
	if v := results.ServerClosesPerRequest.Of(res); v > 0 {
		closes = fmt.Sprintf(", %.2f server closes per request", v)
	}
	d.ended(false, "%s: %.0f req/s, p99 %.2f ms, %d errors%s%s", label, res.Load.RequestsPerS, res.Load.Latency.P99US/1000, res.Load.Errors.Total(), closes, busy)
}

// describeMachine says how much of each CPU set other work and steal took.
func describeMachine(m *results.MachineLoad) string {
	part := func(name string, l results.CPUSetLoad) string {
		s := fmt.Sprintf("%s CPUs %s: %.1f%% other work", name, l.CPUs, 100*l.Other)
		if l.Steal > 0 {
			s += fmt.Sprintf(", %.1f%% steal", 100*l.Steal)
		}
		return s
	}
	return part("server", m.Server) + "; " + part("load", m.Load) + fmt.Sprintf("; limit %.0f%%", 100*m.Max)
}

func (d *display) calibrated(j job, c *results.Calibration) {
	if c.Error != "" {
		d.ended(true, "%s strace calibration: FAILED: %s", j.cell.ID, c.Error)
		return
	}
	d.ended(false, "%s strace calibration: %d syscalls for %d requests", j.cell.ID, c.Syscalls, c.Requests)
}

// ended reports a job that ended, one line each, numbered: on a terminal
// it scrolls above the status line, in a log it is the progress.
func (d *display) ended(failure bool, format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.learn()
	d.clearLocked()
	fmt.Fprintf(d.w, "[%d/%d] "+format+"\n", append([]any{d.current + 1, len(d.jobs)}, args...)...)
	d.drawLocked()
}

// learn updates the overhead estimate from the job that just ended.
func (d *display) learn() {
	d.completed++
	took := time.Since(d.started) - d.planned[d.current]
	d.overhead = (d.overhead*time.Duration(d.completed) + took) / time.Duration(d.completed+1)
}

// statusWidth is the most a status line takes of a terminal's width.
const statusWidth = 79

func (d *display) clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clearLocked()
}

func (d *display) clearLocked() {
	if d.shown {
		io.WriteString(d.w, "\r\033[K")
		d.shown = false
	}
}

func (d *display) drawLocked() {
	if !d.live || d.current >= len(d.jobs) || d.jobs == nil {
		return
	}
	j := d.jobs[d.current]
	var left time.Duration
	for i := d.current; i < len(d.jobs); i++ {
		left += d.planned[i] + d.overhead
	}
	left -= min(time.Since(d.started), d.planned[d.current]+d.overhead)
	rep := fmt.Sprintf("rep %d", j.rep)
	if j.calibration() {
		rep = "calibration"
	}
	line := fmt.Sprintf("[%d/%d] %s %s: %s", d.current+1, len(d.jobs), j.cell.ID, rep, d.stage)
	if d.stage == "measuring" {
		line += fmt.Sprintf(" %d req/s", d.rps)
	}
	line += fmt.Sprintf(" — about %s left", left.Round(time.Second))
	line = strings.ReplaceAll(line, "\n", " ")
	// \r returns to the start of the screen line: a status line that
	// wraps would be printed anew each time instead of redrawn.
	if r := []rune(line); len(r) > statusWidth {
		line = string(r[:statusWidth-1]) + "…"
	}
	d.clearLocked()
	io.WriteString(d.w, line)
	d.shown = true
}
