package report

import (
	"io"
	"strings"
	"unicode/utf8"
)

// WriteSummary writes the short plain-text version of a run's results
// that `sockbench run` prints when it ends: one line per cell with the
// axes that vary, the median requests/s with its confidence interval over
// the repetitions, latency percentiles, errors and flags, then every
// failed or missing repetition with its reason.
func WriteSummary(w io.Writer, runDir string) error {
	r, err := loadRun(runDir)
	if err != nil {
		return err
	}
	a, err := analyse(r)
	if err != nil {
		return err
	}
	full := resultsTable(r, a.sums)
	keep := map[string]bool{"req/s": true, "p50 ms": true, "p99 ms": true, "p99.9 ms": true, "errors": true, "interval": true, "converged": true, "reps": true, "flags": true}
	var t table
	var cols []int
	for i, c := range full.Columns {
		if i < len(r.varyingAxes()) || keep[c.Title] {
			cols = append(cols, i)
			t.Columns = append(t.Columns, c)
		}
	}
	for _, row := range full.Rows {
		var out []field
		for _, i := range cols {
			out = append(out, row[i])
		}
		t.Rows = append(t.Rows, out)
	}
	var b strings.Builder
	t.writeText(&b)
	for _, p := range a.problems() {
		b.WriteString("! " + p + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// writeText writes the table in aligned columns for a terminal.
func (t table) writeText(b *strings.Builder) {
	widths := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = utf8.RuneCountInString(c.Title)
		for _, row := range t.Rows {
			widths[i] = max(widths[i], utf8.RuneCountInString(row[i].Text))
		}
	}
	line := func(texts []string) {
		var l strings.Builder
		for i, s := range texts {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if i > 0 {
				l.WriteString("  ")
			}
			if t.Columns[i].Numeric {
				l.WriteString(pad + s)
			} else {
				l.WriteString(s + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	titles := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		titles[i] = c.Title
	}
	line(titles)
	for _, row := range t.Rows {
		texts := make([]string, len(row))
		for i, f := range row {
			texts[i] = f.Text
		}
		line(texts)
	}
}
