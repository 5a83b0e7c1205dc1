package report

import (
	"fmt"
	"strconv"
	"strings"
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
		column{Title: "p50 ms", CSV: []string{"p50_us"}, Numeric: true, Help: "latency percentiles of all requests of the successful repetitions (merged HdrHistograms)"},
		column{Title: "p99 ms", CSV: []string{"p99_us"}, Numeric: true},
		column{Title: "p99.9 ms", CSV: []string{"p999_us"}, Numeric: true},
		column{Title: "max ms", CSV: []string{"max_us"}, Numeric: true},
		column{Title: "errors", CSV: []string{"errors", "requests"}, Numeric: true, Help: "failed requests over the successful repetitions"},
		column{Title: "CPU user µs/req", CSV: []string{"cpu_user_us_per_req"}, Numeric: true, Help: "server user CPU per request, median over repetitions"},
		column{Title: "CPU sys µs/req", CSV: []string{"cpu_sys_us_per_req"}, Numeric: true, Help: "server system CPU per request, median over repetitions"},
		column{Title: "syscalls per req", CSV: []string{"syscalls_per_req"}, Numeric: true},
		column{Title: "accepts per wakeup", CSV: []string{"accepts_per_wakeup"}, Numeric: true, Help: "connections accepted per poller wakeup on the listener (thread post #19)"},
		column{Title: "reps", CSV: []string{"reps_ok", "reps_failed"}, Numeric: true, Help: "successful / planned repetitions"},
		column{Title: "flags", CSV: []string{"flags"}},
	)
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
			repsField(s),
			flagsField(s),
		)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// repsField is "successful/planned" repetitions.
func repsField(s summary) field {
	return field{Text: fmt.Sprintf("%d/%d", s.OK, s.OK+s.Failed), CSV: []string{strconv.Itoa(s.OK), strconv.Itoa(s.Failed)}, Warn: s.Failed > 0}
}

// flagsField lists the row's warnings, with the reasons repetitions
// failed as the HTML tooltip.
func flagsField(s summary) field {
	flags := s.flags()
	return field{Text: strings.Join(flags, ", "), CSV: []string{strings.Join(flags, "; ")}, Warn: len(flags) > 0, Tip: failureTip(s.Cell)}
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
