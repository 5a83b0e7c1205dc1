package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
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
		column{Title: "req/s", CSV: []string{"rps_median"}, Numeric: true, Help: "median requests/s over the successful repetitions"},
		column{Title: "req/s min–max", CSV: []string{"rps_min", "rps_max"}, Numeric: true, Help: "lowest and highest requests/s of the repetitions"},
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
		flags := s.flags()
		row = append(row,
			field{Text: fmtCount(s.RPS.Median), CSV: []string{csvFloat(s.RPS.Median, 1)}},
			field{Text: fmtRange(s.RPS), CSV: []string{csvFloat(s.RPS.Min, 1), csvFloat(s.RPS.Max, 1)}},
			field{Text: fmtFixed(s.MBps.Median, 1), CSV: []string{csvFloat(s.MBps.Median, 3)}},
			latencyField(s, 50),
			latencyField(s, 99),
			latencyField(s, 99.9),
			latencyField(s, 100),
			errs,
			field{Text: fmtFixed(s.CPUUser.Median, 1), CSV: []string{csvFloat(s.CPUUser.Median, 3)}},
			field{Text: fmtFixed(s.CPUSys.Median, 1), CSV: []string{csvFloat(s.CPUSys.Median, 3)}},
			field{Text: fmtFixed(s.Syscalls.Median, 2), CSV: []string{csvFloat(s.Syscalls.Median, 3)}},
			field{Text: fmtFixed(s.Accepts.Median, 1), CSV: []string{csvFloat(s.Accepts.Median, 3)}},
			field{Text: fmt.Sprintf("%d/%d", s.OK, s.OK+s.Failed), CSV: []string{strconv.Itoa(s.OK), strconv.Itoa(s.Failed)}, Warn: s.Failed > 0},
			field{Text: strings.Join(flags, ", "), CSV: []string{strings.Join(flags, "; ")}, Warn: len(flags) > 0, Tip: failureTip(s.Cell)},
		)
		t.Rows = append(t.Rows, row)
	}
	return t
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

// ranked is one server's place in its group.
type ranked struct {
	Server  string
	RPS     spread
	Ratio   float64
	Verdict string
}

// Verdicts of the comparison with the best server of a group. The test is
// deliberately plain: two cells differ beyond the noise only when their
// min–max ranges over repetitions do not overlap.
const (
	verdictBest    = "best"
	verdictClear   = "yes, ranges apart"
	verdictNoise   = "within noise"
	verdictOneRep  = "unknown: 1 rep"
	verdictNoData  = "no data"
	verdictNoGroup = "only server"
)

// rankGroup sorts the servers of one group by median requests/s.
func rankGroup(g group, byCell map[*cell]summary) []ranked {
	var out []ranked
	for _, c := range g.Cells {
		out = append(out, ranked{Server: c.server(), RPS: byCell[c].RPS})
	}
	// Cells without data sink to the bottom; among the rest, faster first.
	sortRanked(out)
	best := out[0].RPS
	for i := range out {
		e := &out[i]
		switch {
		case !e.RPS.Known():
			e.Ratio, e.Verdict = math.NaN(), verdictNoData
		case i == 0 && len(out) == 1:
			e.Ratio, e.Verdict = 1, verdictNoGroup
		case i == 0:
			e.Ratio, e.Verdict = 1, verdictBest
		case e.RPS.N < 2 || best.N < 2:
			e.Ratio, e.Verdict = e.RPS.Median/best.Median, verdictOneRep
		case e.RPS.Overlaps(best):
			e.Ratio, e.Verdict = e.RPS.Median/best.Median, verdictNoise
		default:
			e.Ratio, e.Verdict = e.RPS.Median/best.Median, verdictClear
		}
	}
	return out
}

func sortRanked(rs []ranked) {
	slices.SortFunc(rs, func(a, b ranked) int {
		if a.RPS.Known() != b.RPS.Known() {
			if a.RPS.Known() {
				return -1
			}
			return 1
		}
		if a.RPS.Known() {
			if c := cmp.Compare(b.RPS.Median, a.RPS.Median); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Server, b.Server)
	})
}

// rankingTable renders the ranking of one group; withGroup adds the group's
// axis values as leading columns, for the single CSV file of all groups.
func rankingTable(g group, rs []ranked, withGroup bool) table {
	var t table
	if withGroup {
		for _, kv := range g.Fixed {
			t.Columns = append(t.Columns, column{Title: kv.Key, CSV: []string{kv.Key}})
		}
	}
	t.Columns = append(t.Columns,
		column{Title: "rank", CSV: []string{"rank"}, Numeric: true},
		column{Title: "server", CSV: []string{"server"}},
		column{Title: "req/s", CSV: []string{"rps_median"}, Numeric: true},
		column{Title: "req/s min–max", CSV: []string{"rps_min", "rps_max"}, Numeric: true},
		column{Title: "vs best", CSV: []string{"ratio_to_best"}, Numeric: true, Help: "median requests/s divided by the best server's"},
		column{Title: "difference beyond rep spread?", CSV: []string{"beyond_spread"}, Help: "yes when this server's min–max range over repetitions does not overlap the best server's"},
	)
	for i, e := range rs {
		var row []field
		if withGroup {
			for _, kv := range g.Fixed {
				row = append(row, textField(kv.Value))
			}
		}
		row = append(row,
			textField(strconv.Itoa(i+1)),
			textField(e.Server),
			field{Text: fmtCount(e.RPS.Median), CSV: []string{csvFloat(e.RPS.Median, 1)}},
			field{Text: fmtRange(e.RPS), CSV: []string{csvFloat(e.RPS.Min, 1), csvFloat(e.RPS.Max, 1)}},
			field{Text: fmtRatio(e.Ratio), CSV: []string{csvFloat(e.Ratio, 4)}},
			field{Text: e.Verdict, CSV: []string{e.Verdict}, Warn: e.Verdict == verdictNoData},
		)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// rankingCSVTable joins every group's ranking into one table.
func rankingCSVTable(r *run, byCell map[*cell]summary) table {
	var all table
	for _, g := range groupBy(r.Cells, r.groupAxes()) {
		t := rankingTable(g, rankGroup(g, byCell), true)
		all.Columns = t.Columns
		all.Rows = append(all.Rows, t.Rows...)
	}
	return all
}
