package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/sockbench/sockbench/internal/ranktest"
	"github.com/sockbench/sockbench/runner/results"
)

// Every metric is summarised over the rounds as a ranktest.Sample: the
// median, which one noisy round cannot drag, and the range, which shows how
// noisy they were. Whether two contestants differ is the rank test's to
// say, never the ranges': ranges overlap with a real difference and miss
// each other by chance.

// perRequestMicros is CPU seconds spread over requests, in µs.
func perRequestMicros(cpuSeconds float64, requests int64) float64 {
	if requests <= 0 {
		return math.NaN()
	}
	return cpuSeconds * 1e6 / float64(requests)
}

// ratio is a/b, NaN when either is missing.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// Formatting helpers; a missing value prints as "–".

func fmtRate(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f", x)
}

func fmtRange(s ranktest.Sample) string {
	if s.N() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f–%.0f", s.Min, s.Max)
}

// fmtTest is the rank test of b against the baseline a over the rounds,
// in benchstat's words: "−12.1% [−15.0%, −9.2%] (p=0.008, n=5+5)", "no significant
// difference (p=0.343, n=5+5)", "too few repetitions to tell (…)".
func fmtTest(a, b ranktest.Sample) string {
	return ranktest.Compare(a, b, results.IntervalConfidence).String()
}

func fmtMicros(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtPercent(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

// table is a Markdown table padded so it also reads well in a terminal:
// the names (first column), the tests' verdicts and the notes aligned left,
// the numbers right.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) alignLeft(col int) bool {
	return col == 0 || t.header[col] == "notes" || strings.HasPrefix(t.header[col], "test vs ")
}

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.header))
	for i := range widths {
		widths[i] = 3 // room for the "---:" separator
	}
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, w := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", w-utf8.RuneCountInString(c))
			if t.alignLeft(i) {
				b.WriteString(" " + c + pad + " |")
			} else {
				b.WriteString(" " + pad + c + " |")
			}
		}
		b.WriteString("\n")
	}
	line(t.header)
	b.WriteString("|")
	for i, w := range widths {
		if t.alignLeft(i) {
			b.WriteString(" :" + strings.Repeat("-", w-1) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
