// Package ranktest is how sockbench tells whether two sets of repeated
// measurements differ: benchstat's statistics with benchstat's defaults
// (golang.org/x/perf/benchmath, assuming nothing of the distribution), the
// median with its distribution-free confidence interval, the two-sided
// Mann–Whitney U test at α = 0.05, and the interval of the ratio that
// inverts the same test. Repetitions of a load test are not normally
// distributed (one slow repetition is common), which is why benchstat
// assumes nothing and sockbench does too. The report and bench/compare say
// "significant" by this package and nothing else; ranges that overlap or
// not are no test at all.
package ranktest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Thresholds are benchstat's: the α every comparison is made at.
var Thresholds = benchmath.DefaultThresholds

// SearchLimit bounds the searches for the fewest repetitions a test or
// an interval needs; past it a text says "more than".
const SearchLimit = 100

// Sample is the repetitions of one measure.
type Sample struct {
	// Values are the finite values, sorted.
	Values []float64
	// Median is benchmath's centre; Min and Max span the values. NaN
	// without a value.
	Median, Min, Max float64
	bench            *benchmath.Sample
}

// NewSample keeps the finite values of vs: a NaN (not measured) is
// skipped, so one repetition without a value does not hide the others.
func NewSample(vs []float64) Sample {
	var xs []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	nan := math.NaN()
	s := Sample{Median: nan, Min: nan, Max: nan}
	if len(xs) == 0 {
		return s
	}
	s.bench = benchmath.NewSample(xs, &Thresholds) // sorts xs
	s.Values = s.bench.Values
	s.Median = benchmath.AssumeNothing.Summary(s.bench, 0.5).Center
	s.Min, s.Max = xs[0], xs[len(xs)-1]
	return s
}

// N is the number of values.
func (s Sample) N() int { return len(s.Values) }

// Interval is the confidence interval of the median at level, and the
// confidence it has (the next level a small sample's order statistics
// reach); infinite bounds with too few values for one, NaN without values.
func (s Sample) Interval(level float64) (lo, hi, confidence float64) {
	if s.N() == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	sum := benchmath.AssumeNothing.Summary(s.bench, level)
	return sum.Lo, sum.Hi, sum.Confidence
}

// MinRepsForInterval is the fewest repetitions whose median has a finite
// interval at level, asked of benchmath rather than written down.
func MinRepsForInterval(level float64) int {
	for n := 1; n <= SearchLimit; n++ {
		if lo, hi, _ := NewSample(ramp(0, n)).Interval(level); !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
			return n
		}
	}
	return SearchLimit + 1
}

// MinPossibleP is the smallest p-value the test can give samples of n1
// and n2 values: that of two samples whose values do not interleave.
func MinPossibleP(n1, n2 int) float64 {
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(ramp(0, n1), &Thresholds), benchmath.NewSample(ramp(n1, n2), &Thresholds)).P
}

// MinRepsToTell is the fewest repetitions on each side with which the
// test can call any difference significant at the thresholds' α.
var MinRepsToTell = sync.OnceValue(func() int {
	for n := 1; n <= SearchLimit; n++ {
		if MinPossibleP(n, n) <= Thresholds.CompareAlpha {
			return n
		}
	}
	return SearchLimit + 1
})

// ramp is n distinct values from start: a sample with no ties.
func ramp(start, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(start + i + 1)
	}
	return xs
}

// Verdict is what a comparison of two samples can say.
type Verdict int

const (
	NoData  Verdict = iota // a side has no value
	TooFew                 // no outcome of the test could be significant
	Same                   // no significant difference
	Differs                // a significant difference
)

// String names the verdict, as a spreadsheet column has it.
func (v Verdict) String() string {
	return [...]string{"no data", "too few repetitions", "no significant difference", "significant"}[v]
}

// Difference is the comparison of a measure between two samples, A (the
// baseline) and B.
type Difference struct {
	Verdict Verdict
	P       float64
	N1, N2  int
	// Change is B's median relative to A's (−0.121: 12.1% lower). Lo and
	// Hi bound the change's interval, NaN when the samples are too small
	// for one at the level asked or hold a value of zero or less.
	Change, Lo, Hi float64
	Confidence     float64
}

// Compare tests whether b differs from a: significant when benchmath's
// p-value is at most α (benchstat's rule), "too few" when not even samples
// that do not overlap at all could be; the change comes with its interval
// at level.
func Compare(a, b Sample, level float64) Difference {
	nan := math.NaN()
	d := Difference{N1: a.N(), N2: b.N(), P: nan, Change: nan, Lo: nan, Hi: nan, Confidence: nan}
	if a.N() == 0 || b.N() == 0 {
		return d
	}
	if a.Median != 0 {
		d.Change = b.Median/a.Median - 1
	}
	if lo, hi, conf, ok := RatioInterval(a.Values, b.Values, level); ok {
		d.Lo, d.Hi, d.Confidence = lo-1, hi-1, conf
	}
	c := benchmath.AssumeNothing.Compare(a.bench, b.bench)
	d.P = c.P
	switch {
	case c.P <= c.Alpha:
		d.Verdict = Differs
	case MinPossibleP(a.N(), b.N()) > c.Alpha:
		d.Verdict = TooFew
	default:
		d.Verdict = Same
	}
	return d
}

// RatioInterval is the confidence interval of b's location relative to
// a's that inverts the same rank test (the Hodges–Lehmann interval, on
// ratios): of the n1·n2 ratios b_j/a_i in order, the k-th smallest and
// the k-th largest, k the largest count with P(U < k) ≤ (1−level)/2 under
// the null distribution of the U statistic for n1 and n2 values. Ranks
// are the same on a log scale, so without ties an interval that excludes
// 1 is exactly a test that is significant at α = 1−level.
func RatioInterval(a, b []float64, level float64) (lo, hi, confidence float64, ok bool) {
	if slices.ContainsFunc(slices.Concat(a, b), func(v float64) bool { return !(v > 0) }) {
		return 0, 0, 0, false
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

// Worse reports whether the difference is significant and in the
// direction a measure counts as worse.
func (d Difference) Worse(higherIsBetter bool) bool {
	return d.Verdict == Differs && (d.Change < 0) == higherIsBetter && d.Change != 0
}

// String writes the comparison the way benchstat would say it:
// "−12.1% ± 3.0% (p=0.008, n=5+5)", "no significant difference (p=0.343,
// n=5+5)" or "too few repetitions to tell (n=2+2, need ≥ 4 each)".
func (d Difference) String() string {
	n := fmt.Sprintf("n=%d+%d", d.N1, d.N2)
	switch d.Verdict {
	case NoData:
		return "no data"
	case TooFew:
		return fmt.Sprintf("too few repetitions to tell (%s, need ≥ %d each)", n, MinRepsToTell())
	case Same:
		return fmt.Sprintf("no significant difference (%s, %s)", FormatP(d.P), n)
	}
	s := FormatChange(d.Change)
	if !math.IsNaN(d.Lo) && !math.IsNaN(d.Change) {
		// Both ends: the interval is seldom symmetric about the change,
		// and "−8.9% ± 10.9%" would seem to reach across no change
		// where [−19.8%, −0.1%] does not.
		s += " [" + FormatChange(d.Lo) + ", " + FormatChange(d.Hi) + "]"
	}
	return s + " (" + FormatP(d.P) + ", " + n + ")"
}

// FormatP writes a p-value the way benchstat does, three decimals.
func FormatP(p float64) string {
	if p < 0.001 {
		return "p<0.001"
	}
	return "p=" + strconv.FormatFloat(p, 'f', 3, 64)
}

// FormatChange writes a relative change given as a fraction as "+12.3%"
// or "−4.0%", with a true minus sign; "–" when there is none.
func FormatChange(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Abs(100*v), 'f', 1, 64) + "%"
	if v < 0 && s != "0.0%" {
		return "−" + s
	}
	return "+" + s
}
