package report

import (
	"math"

	"github.com/sockbench/sockbench/runner/results"
)

// measure is one number the rankings and comparisons test repetition by
// repetition, with how the tables write it.
type measure struct {
	Title string // column title, e.g. "req/s"
	Name  string // in a sentence, e.g. "requests/s"
	Key   string // CSV column prefix
	// Higher says a larger value is better.
	Higher bool
	// ClientBound says the load generator measured it, so it says nothing
	// about the server when the generator was saturated. Server CPU per
	// request holds whatever the client did.
	ClientBound bool
	Help        string
	of          func(summary) estimate
	// perRep is one repetition's value, NaN when it has none: the sample
	// a comparison relative to the drift control divides.
	perRep    func(*rep) float64
	text      func(float64) string
	csvDigits int
}

var (
	measureRPS = measure{Title: "req/s", Name: "requests/s", Key: "rps", Higher: true, ClientBound: true,
		Help:   "requests/s, median over the repetitions that count",
		of:     func(s summary) estimate { return s.RPS },
		perRep: func(r *rep) float64 { return r.RPS }, text: fmtCount, csvDigits: 1}
	measureMBps = measure{Title: "MB/s", Name: "MB/s", Key: "mb_per_s", Higher: true, ClientBound: true,
		Help:   "megabytes/s the generator read (HTTP) or wrote (stream mode), median over the repetitions that count",
		of:     func(s summary) estimate { return s.MBps },
		perRep: func(r *rep) float64 { return r.BytesPerS / 1e6 }, text: func(v float64) string { return fmtFixed(v, 1) }, csvDigits: 3}
	measureCPU = measure{Title: "CPU µs/req", Name: "server CPU µs per request", Key: "cpu_us_per_req",
		Help:   "server user + system CPU per request, median over repetitions",
		of:     func(s summary) estimate { return s.CPU },
		perRep: func(r *rep) float64 { return r.CPUUserUS + r.CPUSysUS }, text: func(v float64) string { return fmtFixed(v, 1) }, csvDigits: 3}
	measureP50 = measure{Title: "p50 ms", Name: "p50 latency", Key: "p50_us", ClientBound: true,
		Help:   "each repetition's median latency, median over repetitions",
		of:     func(s summary) estimate { return s.P50 },
		perRep: func(r *rep) float64 { return r.percentileUS(50) }, text: fmtMS}
	measureP99 = measure{Title: "p99 ms", Name: "p99 latency", Key: "p99_us", ClientBound: true,
		Help:   "each repetition's p99 latency, median over repetitions",
		of:     func(s summary) estimate { return s.P99 },
		perRep: func(r *rep) float64 { return r.percentileUS(99) }, text: fmtMS}
)

// rankMeasure is the report's measure for the one package results ranks
// cells by.
func rankMeasure(m results.Measure) measure {
	switch m {
	case results.BytesPerS:
		return measureMBps
	case results.CPUPerRequest:
		return measureCPU
	}
	return measureRPS
}

// sample is the measure of each repetition, NaN where it has none.
func (m measure) sample(reps []*rep) []float64 {
	vs := make([]float64, len(reps))
	for i, r := range reps {
		vs[i] = m.perRep(r)
	}
	return vs
}

// testedMeasures are the measures every ranking and comparison tests, in
// the order of their columns.
var testedMeasures = []measure{measureRPS, measureCPU, measureP50, measureP99}

// better reports whether centre x is better than y by this measure.
func (m measure) better(x, y float64) bool {
	if m.Higher {
		return x > y
	}
	return x < y
}

// valueColumn heads a column of estimates; its CSV holds the median and
// the interval's bounds.
func (m measure) valueColumn(title, csvPrefix string) column {
	return column{Title: title, CSV: []string{csvPrefix + "_median", csvPrefix + "_ci_lo", csvPrefix + "_ci_hi"}, Numeric: true, Help: m.Help + " ± its confidence interval"}
}

// diffColumn heads a column of comparisons; its CSV holds the verdict,
// the change with its interval in percent, and the p-value.
func diffColumn(title, csvPrefix, help string) column {
	p := csvPrefix
	return column{Title: title, CSV: []string{p, p + "_pct", p + "_lo_pct", p + "_hi_pct", p + "_p"}, Help: help}
}

// field writes an estimate as benchstat does, "96,345 ± 1.2%", or with
// "± ∞" when there are too few repetitions for an interval.
func (m measure) field(e estimate) field {
	f := field{Text: missing, CSV: []string{"", "", ""}}
	if !e.Known() {
		return f
	}
	f.Text = m.text(e.Center)
	switch r := e.relativeCI(); {
	case math.IsInf(r, 1):
		f.Text += " ± ∞"
	case !math.IsNaN(r):
		f.Text += " ± " + fmtSig(100*r, 2) + "%"
	}
	f.CSV = []string{csvFloat(e.Center, m.csvDigits), csvFloat(e.Lo, m.csvDigits), csvFloat(e.Hi, m.csvDigits)}
	f.Tip = estimateTip(e, m.text)
	return f
}

// estimateTip says what the ± stands for, in the HTML tooltip.
func estimateTip(e estimate, text func(float64) string) string {
	if !e.hasCI() {
		return "median of " + plural(e.N, "repetition") + "; a confidence interval needs at least " + plural(minRepsForCI(), "repetition")
	}
	return "median of " + plural(e.N, "repetition") + "; " + fmtSig(100*e.Confidence, 3) + "% confidence interval " + text(e.Lo) + " to " + text(e.Hi)
}

// diffField writes a comparison; warn marks a significant change for the
// worse.
func (m measure) diffField(d difference) field {
	pct := func(v float64) string { return csvFloat(100*v, 2) }
	p := csvFloat(d.P, 4)
	if d.Verdict == verdictNoData {
		p = ""
	}
	return field{Text: d.String(), CSV: []string{d.Verdict.String(), pct(d.Change), pct(d.Lo), pct(d.Hi), p}, Warn: d.Worse(m.Higher)}
}

// untestedField fills a comparison column where no test was made, saying
// why in the text and in the CSV's verdict.
func untestedField(text, csv string) field {
	return field{Text: text, CSV: []string{csv, "", "", "", ""}}
}
