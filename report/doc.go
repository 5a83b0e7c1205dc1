// Package report turns a stored results folder into what a person would
// rather look at than read: comparison tables (Markdown, CSV, HTML), a
// ranking of servers, a benchstat export, plots (PNG and SVG) and one
// self-contained HTML page.
//
// It works from the stored per-repetition results alone, so any run can be
// re-plotted later, and it computes every summary itself (medians and
// min–max over repetitions, percentiles from the merged HdrHistograms)
// rather than trusting numbers summarised when the run was written. The
// same folder therefore always gives the same tables.
package report
