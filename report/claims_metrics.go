package report

import (
	"math"
	"slices"

	"github.com/sockbench/sockbench/runner/results"
)

// claimMetric is a number of one repetition a claim may test, by the name
// claims.yaml gives it. The report's own measures (measure.go) and
// package results' (the connection figures) are reused, not recomputed.
type claimMetric struct {
	Name string
	// Title says it in a table, with its unit.
	Title string
	// ClientBound says the load generator measured it, so a saturated
	// generator, not the server, set it.
	ClientBound bool
	// AboutErrors says the metric counts failures: a cell with errors is
	// what it measures, not a reason to distrust it.
	AboutErrors bool
	// AtLeastWhenSaturated says a saturated generator's figure is a floor
	// of the server's: it answered at least what the client could send.
	AtLeastWhenSaturated bool
	// AtMostWhenSaturated says a saturated generator's figure is a
	// ceiling of the server's: a latency, to which the client's own delay
	// in sending and reading only adds.
	AtMostWhenSaturated bool
	// OnOneCore is, for a metric a saturated generator sets, the figure
	// the server's own CPU cost allows on the one CPU it is pinned to: what
	// a saturated cell is judged on when the client's figure cannot
	// decide (nil: no such figure).
	OnOneCore func(*rep) float64
	// Plot is what the plots draw of a value: the unit text writes it in
	// (ms for the µs latencies are stored in); nil draws it as it is.
	Plot func(float64) float64
	of   func(*rep) float64
	text func(float64) string
}

// plotted is the value as the metric's plots draw it.
func (m claimMetric) plotted(v float64) float64 {
	if m.Plot == nil {
		return v
	}
	return m.Plot(v)
}

// requestsOnOneCore is the requests/s a server pinned to one CPU could
// answer at the CPU each request cost it: a second of that CPU over its
// µs per request. It is at least what it answered (it was busy at most
// all of the window), and it is what the runner ranks a saturated
// group by (results.RankedBy), said as a rate.
func requestsOnOneCore(r *rep) float64 {
	// No CPU measured (NaN, or 0 on a clock too coarse for the window) is
	// no figure, not an infinite rate.
	us := measureCPU.perRep(r)
	if !(us > 0) {
		return math.NaN()
	}
	return 1e6 / us
}

// acceptSyscallsOverModel is the accept path's measured syscalls per
// connection over what the thread's model (post #18) predicts from the
// measured batch, N accepts per wakeup: N accepts, the one that finds
// none and a poller wait, (N+2)/N, the listener registered once. Its
// (N+4)/N adds the register and unregister around every wakeup that no
// server here makes in forum-10.
func acceptSyscallsOverModel(r *rep) float64 {
	n := r.AcceptsPerWakeup
	return r.AcceptSyscallsPerConn / ((n + 2) / n)
}

func usToMS(us float64) float64 { return us / 1000 }

func fmt3(v float64) string { return fmtSig(v, 3) }

var claimMetrics = []claimMetric{
	{Name: "requests_per_s", Title: "requests/s", ClientBound: true, AtLeastWhenSaturated: true, OnOneCore: requestsOnOneCore, of: measureRPS.perRep, text: fmtCount},
	{Name: "bytes_per_s", Title: "MB/s", ClientBound: true, AtLeastWhenSaturated: true, of: func(r *rep) float64 { return r.BytesPerS / 1e6 }, text: fmt3},
	{Name: "cpu_us_per_request", Title: "server CPU µs/request", of: measureCPU.perRep, text: fmt3},
	{Name: "cpu_user_us_per_request", Title: "server user CPU µs/request", of: func(r *rep) float64 { return r.CPUUserUS }, text: fmt3},
	{Name: "cpu_sys_us_per_request", Title: "server system CPU µs/request", of: func(r *rep) float64 { return r.CPUSysUS }, text: fmt3},
	{Name: "syscalls_per_request", Title: "syscalls/request", of: func(r *rep) float64 { return r.SyscallsPerReq }, text: fmt3},
	{Name: "accepts_per_wakeup", Title: "accepts/wakeup", of: func(r *rep) float64 { return r.AcceptsPerWakeup }, text: fmt3},
	{Name: "accept_syscalls_per_connection", Title: "accept syscalls/connection", of: func(r *rep) float64 { return r.AcceptSyscallsPerConn }, text: fmt3},
	{Name: "accept_syscalls_over_model", Title: "accept syscalls/connection ÷ (N+2)/N", of: acceptSyscallsOverModel, text: fmt3},
	{Name: "p50_us", Plot: usToMS, Title: "p50 latency ms", ClientBound: true, AtMostWhenSaturated: true, of: measureP50.perRep, text: fmtMS},
	{Name: "p99_us", Plot: usToMS, Title: "p99 latency ms", ClientBound: true, AtMostWhenSaturated: true, of: measureP99.perRep, text: fmtMS},
	{Name: "max_us", Plot: usToMS, Title: "max latency ms", ClientBound: true, AtMostWhenSaturated: true, AboutErrors: true, of: func(r *rep) float64 { return r.percentileUS(100) }, text: fmtMS},
	{Name: "timeouts", Title: "timed-out requests", AboutErrors: true, of: func(r *rep) float64 {
		if !r.OK {
			return math.NaN()
		}
		return float64(r.ErrorKinds["timeout"])
	}, text: fmtCount},
	{Name: string(results.ServerClosesPerRequest), Title: "server closes/request", of: func(r *rep) float64 { return r.ServerClosesPerReq }, text: fmt3},
	// A saturated generator serves its ready connections in turn, so the
	// shares it measures are still the server's: fairness is not
	// client-bound.
	{Name: string(results.Jain), Title: "Jain's fairness index", of: func(r *rep) float64 { return r.Jain }, text: fmt3},
	{Name: string(results.MinShare), Title: "smallest connection share", of: func(r *rep) float64 { return r.MinShare }, text: fmt3},
	{Name: string(results.MaxShare), Title: "largest connection share", of: func(r *rep) float64 { return r.MaxShare }, text: fmt3},
}

func lookupClaimMetric(name string) (claimMetric, bool) {
	i := slices.IndexFunc(claimMetrics, func(m claimMetric) bool { return m.Name == name })
	if i < 0 {
		return claimMetric{}, false
	}
	return claimMetrics[i], true
}

func claimMetricNames() []string {
	names := make([]string, len(claimMetrics))
	for i, m := range claimMetrics {
		names[i] = m.Name
	}
	return names
}
