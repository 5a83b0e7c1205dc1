package report

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/sockbench/sockbench/internal/ranktest"
)

// Whether the drift control moved during a run is a test for a trend in
// its measurements over time: Kendall's rank test (the Mann–Kendall trend
// test), with the size of the trend from the Theil–Sen line, the median
// of the slopes between every two measurements. Both use ranks only, like
// the Mann–Whitney test of the rest of the report, so one slow
// measurement neither makes nor hides a trend; and the test is exact for
// the handful of control measurements a run makes, where comparing the
// first half with the last could not tell anything (two halves of five
// are 2 + 2, too few for the rank test).

// trend is the trend of a series of measurements over time.
type trend struct {
	Verdict verdict // verdictDiffers: a trend beyond the series' own noise
	N       int
	P       float64
	// Slope and Intercept are the Theil–Sen line (value per unit of x);
	// Change is its rise from the first x to the last, as a share of the
	// median value.
	Slope, Intercept, Change float64
}

// trendOf tests the values ys, measured at xs, for a trend. NaNs are
// left out.
func trendOf(xs, ys []float64) trend {
	type point struct{ x, y float64 }
	var pts []point
	for i := range xs {
		if !math.IsNaN(ys[i]) && !math.IsNaN(xs[i]) {
			pts = append(pts, point{xs[i], ys[i]})
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int { return cmp.Compare(a.x, b.x) })
	nan := math.NaN()
	t := trend{N: len(pts), P: nan, Slope: nan, Intercept: nan, Change: nan}
	if t.N < 2 {
		return t
	}
	s := 0
	var slopes []float64
	for i := range pts {
		for j := i + 1; j < len(pts); j++ {
			dy := pts[j].y - pts[i].y
			switch {
			case dy > 0:
				s++
			case dy < 0:
				s--
			}
			if dx := pts[j].x - pts[i].x; dx != 0 {
				slopes = append(slopes, dy/dx)
			}
		}
	}
	t.P = kendallP(t.N, s)
	switch {
	case t.N < minTrendPoints():
		t.Verdict = verdictTooFew
	case t.P <= thresholds.CompareAlpha:
		t.Verdict = verdictDiffers
	default:
		t.Verdict = verdictSame
	}
	if len(slopes) == 0 {
		return t
	}
	t.Slope = ranktest.NewSample(slopes).Median
	var icpt, vs []float64
	for _, p := range pts {
		icpt = append(icpt, p.y-t.Slope*p.x)
		vs = append(vs, p.y)
	}
	t.Intercept = ranktest.NewSample(icpt).Median
	if m := ranktest.NewSample(vs).Median; m != 0 {
		t.Change = t.Slope * (pts[len(pts)-1].x - pts[0].x) / math.Abs(m)
	}
	return t
}

// kendallP is the two-sided p-value of Kendall's S (concordant minus
// discordant pairs) for n values in time order: the chance that every
// order being equally likely gives |S| at least this large. Exact, from
// the distribution of the number of inversions of a random permutation;
// ties count as neither concordant nor discordant, which only makes the
// test more cautious.
func kendallP(n, s int) float64 {
	if s == 0 {
		return 1
	}
	pairs := n * (n - 1) / 2
	k := (pairs - abs(s)) / 2 // at most k inversions give S ≥ |s|
	if k < 0 {
		return 0
	}
	dist := inversions(n)
	p := 0.0
	for i := 0; i <= k && i < len(dist); i++ {
		p += dist[i]
	}
	return math.Min(1, 2*p)
}

// inversions is the probability of each number of inversions of a
// random permutation of n (Mahonian numbers divided by n!), built up one
// element at a time: the m-th adds 0 to m−1 inversions, equally likely.
func inversions(n int) []float64 {
	p := []float64{1}
	for m := 2; m <= n; m++ {
		next := make([]float64, len(p)+m-1)
		for k, v := range p {
			for j := range m {
				next[k+j] += v / float64(m)
			}
		}
		p = next
	}
	return p
}

// minTrendPoints is the fewest measurements in which the trend test can
// find any trend at the threshold's α: those of a strictly monotone
// series.
var minTrendPoints = sync.OnceValue(func() int {
	for n := 2; n <= searchLimit; n++ {
		if kendallP(n, n*(n-1)/2) <= thresholds.CompareAlpha {
			return n
		}
	}
	return searchLimit + 1
})

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
