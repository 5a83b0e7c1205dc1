package report

import (
	"fmt"
	"math"
	"sync"

	"github.com/sockbench/sockbench/internal/ranktest"
	"github.com/sockbench/sockbench/runner/results"
)

// Every statement the report makes about repetitions (a cell's median and
// how sure it is, whether two servers or two runs differ) comes from
// package ranktest (benchstat's statistics with benchstat's defaults),
// through the names below.

var thresholds = &ranktest.Thresholds

const searchLimit = ranktest.SearchLimit

// ciLevel is the confidence every interval is asked for, package results'
// (the adaptive rounds narrow the same interval); the one given may be
// higher, the next level a small sample's order statistics reach.
const ciLevel = results.IntervalConfidence

// estimate is one measure of a cell over its successful repetitions:
// the median with its confidence interval, the range the values span (the
// charts' whiskers), and the sample the tests use.
type estimate struct {
	Center float64
	// Lo and Hi bound the interval of the centre; infinite when there are
	// too few values for one at ciLevel.
	Lo, Hi     float64
	Confidence float64
	Min, Max   float64
	N          int
	sample     ranktest.Sample
}

// estimateOf summarises the finite values; NaNs (not measured) are skipped
// so one repetition without a value does not hide the others.
func estimateOf(vs []float64) estimate {
	s := ranktest.NewSample(vs)
	e := estimate{Center: s.Median, Min: s.Min, Max: s.Max, N: s.N(), sample: s}
	e.Lo, e.Hi, e.Confidence = s.Interval(ciLevel)
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
// interval at ciLevel.
var minRepsForCI = sync.OnceValue(func() int { return ranktest.MinRepsForInterval(ciLevel) })

// minRepsToTell is the fewest repetitions a side with which any
// difference can be significant.
var minRepsToTell = ranktest.MinRepsToTell

// verdict is what a comparison of two samples can say.
type verdict = ranktest.Verdict

const (
	verdictNoData  = ranktest.NoData
	verdictTooFew  = ranktest.TooFew
	verdictSame    = ranktest.Same
	verdictDiffers = ranktest.Differs
)

// difference is the comparison of a measure between two samples, A (the
// baseline) and B.
type difference = ranktest.Difference

// compareEstimates tests whether b differs from a, by the rank test.
func compareEstimates(a, b estimate) difference { return ranktest.Compare(a.sample, b.sample, ciLevel) }

// The interval of a ratio and the words of p-values and changes, under
// the names the report's tables and claims use.
var (
	ratioInterval    = ranktest.RatioInterval
	fmtP             = ranktest.FormatP
	fmtSignedPercent = ranktest.FormatChange
)

// statsNote says how every comparison of the report was made, with the
// thresholds benchmath gives rather than numbers written down here.
func statsNote() string {
	return fmt.Sprintf("Each measure is the median of a cell's successful repetitions with its %.0f%% confidence interval "+
		"(± ∞ with fewer than %d repetitions, too few for an interval). Two cells are compared by a two-sided Mann–Whitney U test "+
		"over their repetitions at α = %g, as benchstat does; a significant change is given with a %.0f%% interval for the ratio "+
		"from the same test, e.g. \"−12.1%% [−15.0%%, −9.2%%] (p=0.008, n=5+5)\". With fewer than %d repetitions on each side no difference "+
		"can reach significance, and the tables say \"too few repetitions to tell\" rather than guess.",
		100*ciLevel, minRepsForCI(), thresholds.CompareAlpha, 100*ciLevel, minRepsToTell())
}
