package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"

	"github.com/sockbench/sockbench/runner/results"
)

// Every statement the report makes about repetitions (a cell's median and
// how sure it is, whether two servers or two runs differ) comes from this
// file, with benchstat's statistics and benchstat's defaults: the median
// with its distribution-free confidence interval, and the two-sided
// Mann–Whitney U test at α = 0.05 (benchmath.AssumeNothing). Repetitions
// of a load test are not normally distributed (one slow repetition is
// common), which is why benchstat assumes nothing and the report does too.

var thresholds = benchmath.DefaultThresholds

// ciLevel is the confidence every interval is asked for, package results'
// (the adaptive rounds narrow the same interval); the one given may be
// higher, the next level a small sample's order statistics reach.
const ciLevel = results.IntervalConfidence

// searchLimit bounds the searches for the fewest repetitions below; past
// it the report says "more than".
const searchLimit = 100

// estimate is one measure of a cell over its successful repetitions:
// benchmath's centre (the median) with its confidence interval, the range
// the values span (the charts' whiskers), and the sample the tests use.
type estimate struct {
	Center float64
	// Lo and Hi bound the interval of the centre; infinite when there are
	// too few values for one at ciLevel.
	Lo, Hi     float64
	Confidence float64
	Min, Max   float64
	N          int
	sample     *benchmath.Sample
}

// estimateOf summarises the finite values; NaNs (not measured) are skipped
// so one repetition without a value does not hide the others.
func estimateOf(vs []float64) estimate {
	var xs []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	nan := math.NaN()
	e := estimate{Center: nan, Lo: nan, Hi: nan, Confidence: nan, Min: nan, Max: nan, N: len(xs)}
	if len(xs) == 0 {
		return e
	}
	e.sample = benchmath.NewSample(xs, &thresholds) // sorts xs
	s := benchmath.AssumeNothing.Summary(e.sample, ciLevel)
	e.Center, e.Lo, e.Hi, e.Confidence = s.Center, s.Lo, s.Hi, s.Confidence
	e.Min, e.Max = xs[0], xs[len(xs)-1]
	return e
}

// Known reports whether any value was measured.
func (e estimate) Known() bool { return e.N > 0 }

// hasCI reports whether the centre has a finite interval.
func (e estimate) hasCI() bool {
	return e.Known() && !math.IsInf(e.Lo, 0) && !math.IsInf(e.Hi, 0)
}

// relativeCI is the interval's larger distance from the centre as a share
// of it (0.012 for "± 1.2%"): +Inf without an interval, NaN when the
// centre is zero.
func (e estimate) relativeCI() float64 {
	switch {
	case !e.Known() || e.Center == 0:
		return math.NaN()
	case !e.hasCI():
		return math.Inf(1)
	}
	return results.HalfWidth(e.Lo, e.Center, e.Hi)
}

// minRepsForCI is the fewest repetitions whose median has a finite
// interval at ciLevel, asked of benchmath rather than written down.
var minRepsForCI = sync.OnceValue(func() int {
	for n := 1; n <= searchLimit; n++ {
		if estimateOf(ramp(0, n)).hasCI() {
			return n
		}
	}
	return searchLimit + 1
})

// minPossibleP is the smallest p-value the test can give samples of n1
// and n2 values: that of two samples whose values do not interleave.
func minPossibleP(n1, n2 int) float64 {
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(ramp(0, n1), &thresholds), benchmath.NewSample(ramp(n1, n2), &thresholds)).P
}

// minRepsToTell is the fewest repetitions on each side with which the
// test can call any difference significant at the threshold's α.
var minRepsToTell = sync.OnceValue(func() int {
	for n := 1; n <= searchLimit; n++ {
		if minPossibleP(n, n) <= thresholds.CompareAlpha {
			return n
		}
	}
	return searchLimit + 1
})

// ramp is n distinct values from start: a sample with no ties.
func ramp(start, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(start + i + 1)
	}
	return xs
}

// verdict is what a comparison of two samples can say.
type verdict int

const (
	verdictNoData  verdict = iota // a side has no value
	verdictTooFew                 // no outcome of the test could be significant
	verdictSame                   // no significant difference
	verdictDiffers                // a significant difference
)

// difference is the comparison of a measure between two samples, A (the
// baseline) and B.
type difference struct {
	Verdict verdict
	P       float64
	N1, N2  int
	// Change is B's centre relative to A's (−0.121: 12.1% lower). Lo and
	// Hi bound the change's interval, NaN when the samples are too small
	// for one at ciLevel or hold a value of zero or less.
	Change, Lo, Hi float64
	Confidence     float64
}

// compareEstimates tests whether b differs from a: significant when
// benchmath's p-value is at most α (benchstat's rule), "too few" when not
// even samples that do not overlap at all could be.
func compareEstimates(a, b estimate) difference {
	nan := math.NaN()
	d := difference{N1: a.N, N2: b.N, P: nan, Change: nan, Lo: nan, Hi: nan, Confidence: nan}
	if !a.Known() || !b.Known() {
		return d
	}
	if a.Center != 0 {
		d.Change = b.Center/a.Center - 1
	}
	if lo, hi, conf, ok := ratioInterval(a.sample.Values, b.sample.Values, ciLevel); ok {
		d.Lo, d.Hi, d.Confidence = lo-1, hi-1, conf
	}
	c := benchmath.AssumeNothing.Compare(a.sample, b.sample)
	d.P = c.P
	switch {
	case c.P <= c.Alpha:
		d.Verdict = verdictDiffers
	case minPossibleP(a.N, b.N) > c.Alpha:
		d.Verdict = verdictTooFew
	default:
		d.Verdict = verdictSame
	}
	return d
}

// ratioInterval is the confidence interval of b's location relative to
// a's that inverts the same rank test (the Hodges–Lehmann interval, on
// ratios): of the n1·n2 ratios b_j/a_i in order, the k-th smallest and
// the k-th largest, k the largest count with P(U < k) ≤ (1−level)/2 under
// the null distribution of the U statistic for n1 and n2 values. Ranks
// are the same on a log scale, so without ties an interval that excludes
// 1 is exactly a test that is significant at α = 1−level.
func ratioInterval(a, b []float64, level float64) (lo, hi, confidence float64, ok bool) {
	for _, v := range append(append([]float64(nil), a...), b...) {
		if !(v > 0) {
			return 0, 0, 0, false
		}
	}
	n1, n2 := len(a), len(b)
	dist := stats.UDist{N1: n1, N2: n2}
	tail := (1 - level) / 2
	// The first count whose cumulative probability passes the tail.
	k := sort.Search(n1*n2/2+1, func(u int) bool { return dist.CDF(float64(u)) > tail })
	if k == 0 {
		return 0, 0, 0, false
	}
	ratios := make([]float64, 0, n1*n2)
	for _, x := range a {
		for _, y := range b {
			ratios = append(ratios, y/x)
		}
	}
	sort.Float64s(ratios)
	return ratios[k-1], ratios[n1*n2-k], 1 - 2*dist.CDF(float64(k-1)), true
}

// worse reports whether the difference is significant and in the
// direction a measure counts as worse.
func (d difference) worse(higherIsBetter bool) bool {
	return d.Verdict == verdictDiffers && (d.Change < 0) == higherIsBetter && d.Change != 0
}

// String writes the comparison the way benchstat would say it:
// "−12.1% ± 3.0% (p=0.008, n=5+5)", "no significant difference (p=0.343,
// n=5+5)" or "too few repetitions to tell (n=2+2, need ≥ 4 each)".
func (d difference) String() string {
	n := fmt.Sprintf("n=%d+%d", d.N1, d.N2)
	switch d.Verdict {
	case verdictNoData:
		return "no data"
	case verdictTooFew:
		return fmt.Sprintf("too few repetitions to tell (%s, need ≥ %d each)", n, minRepsToTell())
	case verdictSame:
		return fmt.Sprintf("no significant difference (%s, %s)", fmtP(d.P), n)
	}
	s := fmtSignedPercent(d.Change)
	if !math.IsNaN(d.Lo) && !math.IsNaN(d.Change) {
		s += " ± " + strconv.FormatFloat(100*math.Max(d.Hi-d.Change, d.Change-d.Lo), 'f', 1, 64) + "%"
	}
	return s + " (" + fmtP(d.P) + ", " + n + ")"
}

// csvVerdict names the verdict in a spreadsheet column.
func (d difference) csvVerdict() string {
	return [...]string{"no data", "too few repetitions", "no significant difference", "significant"}[d.Verdict]
}

// fmtP writes a p-value the way benchstat does, three decimals.
func fmtP(p float64) string {
	if p < 0.001 {
		return "p<0.001"
	}
	return "p=" + strconv.FormatFloat(p, 'f', 3, 64)
}

// statsNote says how every comparison of the report was made, with the
// thresholds benchmath gives rather than numbers written down here.
func statsNote() string {
	return fmt.Sprintf("Each measure is the median of a cell's successful repetitions with its %.0f%% confidence interval "+
		"(± ∞ with fewer than %d repetitions, too few for an interval). Two cells are compared by a two-sided Mann–Whitney U test "+
		"over their repetitions at α = %g, as benchstat does; a significant change is given with a %.0f%% interval for the ratio "+
		"from the same test, e.g. \"−12.1%% ± 3.0%% (p=0.008, n=5+5)\". With fewer than %d repetitions on each side no difference "+
		"can reach significance, and the tables say \"too few repetitions to tell\" rather than guess.",
		100*ciLevel, minRepsForCI(), thresholds.CompareAlpha, 100*ciLevel, minRepsToTell())
}
