package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKendallExact: the trend test's p-values are the exact ones of
// Kendall's S, and a strictly monotone series needs five points to be
// significant at α = 0.05 (2/5! = 0.017; 2/4! = 0.083).
func TestKendallExact(t *testing.T) {
	for n := 1; n <= 12; n++ {
		sum := 0.0
		for _, p := range inversions(n) {
			sum += p
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("n=%d: the inversion probabilities sum to %v", n, sum)
		}
	}
	for _, tt := range []struct {
		n, s int
		want float64
	}{
		{5, 10, 2.0 / 120}, {5, -10, 2.0 / 120}, {4, 6, 2.0 / 24},
		{5, 8, 2 * 5.0 / 120}, // S=8: at most one inversion, 1 + 4 of 120 orders
		{6, 0, 1}, {3, 1, 1},
	} {
		if got := kendallP(tt.n, tt.s); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("kendallP(%d, %d) = %v, want %v", tt.n, tt.s, got, tt.want)
		}
	}
	if n := minTrendPoints(); n != 5 {
		t.Errorf("the trend test needs %d points; the report's texts were written for 5", n)
	}
	tr := trendOf([]float64{0, 1, 2, 3, 4}, []float64{100, 99, 98, 97, 96})
	if tr.Verdict != verdictDiffers || math.Abs(tr.Change-(-4.0/98)) > 1e-12 || tr.Slope != -1 || tr.Intercept != 100 {
		t.Errorf("a straight fall: %+v, want significant, −1 a step, −4/98 over the span", tr)
	}
	if tr := trendOf([]float64{0, 1, 2}, []float64{3, 2, 1}); tr.Verdict != verdictTooFew {
		t.Errorf("three points: %+v, want too few to tell", tr)
	}
}

// TestFlatSeriesHasNoTrend is the A/A test of the drift rule: series of
// eight measurements with noise and no trend are called drifting no more
// often than α allows; a drift of 1% a measurement, three times the
// noise over the run, is found in nearly all.
func TestFlatSeriesHasNoTrend(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 5))
	alpha := thresholds.CompareAlpha
	xs := []float64{0, 0.3, 0.55, 0.8, 1.1, 1.35, 1.6, 1.9}
	var flat, drift int
	for range trials {
		ys := normalSample(rng, len(xs), 96000, 0.01)
		if trendOf(xs, ys).Verdict == verdictDiffers {
			flat++
		}
		for i := range ys {
			ys[i] *= 1 - 0.01*float64(i)
		}
		if tr := trendOf(xs, ys); tr.Verdict == verdictDiffers && tr.Change < 0 {
			drift++
		}
	}
	t.Logf("%d trials of 8 points, 1%% noise: flat called drifting in %d, −1%% a point found in %d", trials, flat, drift)
	if share := float64(flat) / trials; share > alpha+binomialMargin(alpha) {
		t.Errorf("%.1f%% of flat series called drifting, want at most α = %.0f%% plus the margin", 100*share, 100*alpha)
	}
	if share := float64(drift) / trials; share < 0.95 {
		t.Errorf("a drift of −7%% over 8 points with 1%% noise found in only %.1f%% of trials", 100*share)
	}
}
