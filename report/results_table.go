package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sockbench/sockbench/runner/results"
)

// resultsTable has one row per cell: the axes that vary, then throughput,
// latency, errors and the server's cost per request.
func resultsTable(r *run, sums []summary) table {
	axes := r.varyingAxes()
	var t table
	for _, a := range axes {
		t.Columns = append(t.Columns, column{Title: a, CSV: []string{a}})
	}
	t.Columns = append(t.Columns,
		measureRPS.valueColumn(measureRPS.Title, measureRPS.Key),
		column{Title: "MB/s", CSV: []string{"mb_per_s_median"}, Numeric: true, Help: "median megabytes/s the generator read (HTTP) or wrote (stream mode)"},
		column{Title: "p50 ms", CSV: []string{"p50_us"}, Numeric: true, Help: "latency percentiles of all requests of the repetitions that count (merged HdrHistograms)"},
		column{Title: "p99 ms", CSV: []string{"p99_us"}, Numeric: true},
		column{Title: "p99.9 ms", CSV: []string{"p999_us"}, Numeric: true},
		column{Title: "max ms", CSV: []string{"max_us"}, Numeric: true},
		column{Title: "errors", CSV: []string{"errors", "requests"}, Numeric: true, Help: "failed requests over the repetitions that count"},
		column{Title: "CPU user µs/req", CSV: []string{"cpu_user_us_per_req"}, Numeric: true, Help: "server user CPU per request, median over repetitions"},
		column{Title: "CPU sys µs/req", CSV: []string{"cpu_sys_us_per_req"}, Numeric: true, Help: "server system CPU per request, median over repetitions"},
		column{Title: "syscalls per req", CSV: []string{"syscalls_per_req"}, Numeric: true},
		column{Title: "accepts per wakeup", CSV: []string{"accepts_per_wakeup"}, Numeric: true, Help: "connections accepted per poller wakeup on the listener (thread post #19)"},
		column{Title: "server closes/req", CSV: []string{"server_closes_per_req"}, Numeric: true, Help: "connections the server closed after a complete answer, per request, median over repetitions: reconnected and counted apart from errors (wrk counts them as read errors; thread post #5)"},
		column{Title: "fairness", CSV: []string{"jain", "min_share", "max_share"}, Numeric: true, Help: "Jain's index of the requests answered per connection (1: even), with the fewest and the most of one connection over the mean, medians over repetitions (thread post #18)"},
	)
	if r.Adaptive != nil {
		t.Columns = append(t.Columns, intervalColumns(r.Adaptive)...)
	}
	t.Columns = append(t.Columns, repsColumn, column{Title: "flags", CSV: []string{"flags"}})
	for _, s := range sums {
		var row []field
		for _, a := range axes {
			row = append(row, textField(s.Cell.Axes[a]))
		}
		errs := field{Text: fmtCount(float64(s.Errors)), CSV: []string{strconv.FormatInt(s.Errors, 10), strconv.FormatInt(s.Requests, 10)}}
		if s.OK == 0 {
			errs = field{Text: missing, CSV: []string{"", ""}}
		} else if s.Errors > 0 {
			errs.Text += " (" + fmtSig(100*float64(s.Errors)/float64(max(s.Requests, 1)), 2) + "%)"
			errs.Tip = s.errorKindsText()
			errs.Warn = true
		}
		row = append(row,
			measureRPS.field(s.RPS),
			field{Text: fmtFixed(s.MBps.Center, 1), CSV: []string{csvFloat(s.MBps.Center, 3)}},
			latencyField(s, 50),
			latencyField(s, 99),
			latencyField(s, 99.9),
			latencyField(s, 100),
			errs,
			field{Text: fmtFixed(s.CPUUser.Center, 1), CSV: []string{csvFloat(s.CPUUser.Center, 3)}},
			field{Text: fmtFixed(s.CPUSys.Center, 1), CSV: []string{csvFloat(s.CPUSys.Center, 3)}},
			field{Text: fmtFixed(s.Syscalls.Center, 2), CSV: []string{csvFloat(s.Syscalls.Center, 3)}},
			field{Text: fmtFixed(s.Accepts.Center, 1), CSV: []string{csvFloat(s.Accepts.Center, 3)}},
			field{Text: fmtFixed(s.ServerCloses.Center, 2), CSV: []string{csvFloat(s.ServerCloses.Center, 3)}},
			fairnessField(s),
		)
		if r.Adaptive != nil {
			row = append(row, intervalFields(s.Cell.Precision, r.Adaptive)...)
		}
		row = append(row, repsField(s), flagsField(s))
		t.Rows = append(t.Rows, row)
	}
	return t
}

var repsColumn = column{Title: "reps", CSV: []string{"reps_ok", "reps_failed", "reps_busy"}, Numeric: true,
	Help: "repetitions counted / measured: failed ones and those measured on a busy machine do not count"}

// repsField is "counted/measured" repetitions.
func repsField(s summary) field {
	f := field{Text: fmt.Sprintf("%d/%d", s.OK, s.measured()), CSV: []string{strconv.Itoa(s.OK), strconv.Itoa(s.Failed), strconv.Itoa(s.Busy)}, Warn: s.Failed+s.Busy > 0}
	if s.Failed+s.Busy > 0 {
		f.Tip = fmt.Sprintf("%d counted, %d failed, %d measured on a busy machine", s.OK, s.Failed, s.Busy)
	}
	return f
}

// intervalColumns head an adaptive run's columns: the interval of the
// measure each cell is ranked by on its own, and whether it came within
// the target.
func intervalColumns(a *results.Adaptive) []column {
	return []column{
		{Title: "interval", CSV: []string{"interval_measure", "interval_pct"}, Numeric: true,
			Help: fmt.Sprintf("%.0f%% confidence interval of the median of the measure the cell is ranked by on its own (requests/s; CPU µs/req where the client was saturated; MB/s in stream mode), over its counted repetitions", 100*results.IntervalConfidence)},
		{Title: "converged", CSV: []string{"converged"},
			Help: fmt.Sprintf("whether the interval came within ±%s before %d repetitions: the adaptive rounds stop measuring a cell that did", fmtShare(float64(a.CI)), a.Max)},
	}
}

// intervalFields are a cell's interval and convergence, as package results
// judged them for the runner's adaptive rounds.
func intervalFields(p results.Precision, a *results.Adaptive) []field {
	m := rankMeasure(p.Measure)
	scale := 1.0
	if p.Measure == results.BytesPerS {
		scale = 1e-6 // the report's MB/s
	}
	interval := field{Text: missing, CSV: []string{string(p.Measure), ""}, Tip: p.Why}
	if !math.IsNaN(p.HalfWidth) {
		interval = field{Text: "±" + fmtSig(100*p.HalfWidth, 2) + "% " + m.Title, CSV: []string{string(p.Measure), csvFloat(100*p.HalfWidth, 2)},
			Tip: fmt.Sprintf("median %s, interval %s to %s, n=%d", m.text(scale*p.Center), m.text(scale*p.Lo), m.text(scale*p.Hi), p.N)}
	}
	conv := field{Text: "yes", CSV: []string{"yes"}}
	if !p.Converged {
		tip := fmt.Sprintf("not within ±%s after %s (at most %d are measured)", fmtShare(float64(a.CI)), plural(p.N, "counted repetition"), a.Max)
		if p.Why != "" {
			tip += "; no interval: " + p.Why
		}
		conv = field{Text: fmt.Sprintf("no (n=%d)", p.N), CSV: []string{"no"}, Warn: true, Tip: tip}
	}
	return []field{interval, conv}
}

// flagsField lists the row's warnings, with the reasons repetitions
// failed as the HTML tooltip.
func flagsField(s summary) field {
	flags := s.flags()
	return field{Text: strings.Join(flags, ", "), CSV: []string{strings.Join(flags, "; ")}, Warn: len(flags) > 0, Tip: failureTip(s.Cell)}
}

// fairnessField is Jain's index with the fewest and the most answers of
// one connection over the mean: "0.98 (0.91–1.06×)".
func fairnessField(s summary) field {
	f := field{Text: missing, CSV: []string{csvFloat(s.Jain.Center, 4), csvFloat(s.MinShare.Center, 3), csvFloat(s.MaxShare.Center, 3)}}
	if s.Jain.Known() {
		f.Text = fmt.Sprintf("%s (%s–%s×)", fmtFixed(s.Jain.Center, 2), fmtFixed(s.MinShare.Center, 2), fmtFixed(s.MaxShare.Center, 2))
	}
	return f
}

func latencyField(s summary, p float64) field {
	us := s.percentileUS(p)
	return field{Text: fmtMS(us), CSV: []string{csvFloat(us, 0)}}
}

// failureTip gathers the reasons repetitions failed, for the HTML tooltip.
func failureTip(c *cell) string {
	var parts []string
	for _, r := range c.Reps {
		if !r.OK {
			parts = append(parts, fmt.Sprintf("rep %d: %s", r.Index, r.Reason))
		}
	}
	return strings.Join(parts, "; ")
}
