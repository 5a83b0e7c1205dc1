// Package report turns a stored results folder into what a person would
// rather look at than read: comparison tables (Markdown, CSV, HTML), a
// ranking of servers, a benchstat export, plots (PNG and SVG) and one
// self-contained HTML page.
//
// It works from the stored per-repetition results alone, so any run can be
// re-plotted later, and it computes every summary itself (medians over
// repetitions with their confidence intervals, percentiles from the
// merged HdrHistograms) rather than trusting numbers summarised when the
// run was written. The same folder therefore always gives the same
// tables.
//
// Whether two cells differ (two servers in a ranking, one cell in two
// runs) is a rank test over their repetitions, benchstat's
// (golang.org/x/perf/benchmath; significance.go), on requests/s, server
// CPU per request and each repetition's p50 and p99. The report says "too
// few repetitions to tell" where no outcome of that test could be
// significant, and never ranks a number the run itself flagged: a cell
// with failed repetitions or requests is left out, and where the load
// generator was saturated the group is ranked by server CPU per request.
//
// Which repetitions count (successful, on a quiet machine) and which
// number ranks a cell are package results' definitions, shared with the
// runner's adaptive rounds (runner/results/measure.go). A repetition
// measured on a busy machine is shown in the interference table
// (interference.go) and left out of every number. A run's drift control
// is plotted over the run and tested for a trend (control.go, trend.go),
// and two runs with the same control are also compared relative to it
// (relative.go).
package report
