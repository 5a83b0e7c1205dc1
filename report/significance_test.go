package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

// trials is how many synthetic experiments the statistical tests run.
const trials = 1000

// binomialMargin is three standard deviations of the share of successes
// in trials draws that each succeed with probability p: a share beyond it
// is a property of the method, not bad luck (a 0.13% chance).
func binomialMargin(p float64) float64 { return 3 * math.Sqrt(p*(1-p)/trials) }

// normalSample returns n values from a normal distribution around mean with the
// given relative standard deviation.
func normalSample(rng *rand.Rand, n int, mean, relSD float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mean * (1 + relSD*rng.NormFloat64())
	}
	return xs
}

// TestSameDistributionIsNoDifference is the A/A test: 1000 pairs of 5+5
// repetitions drawn from one normal distribution (seeded) are called
// significantly different no more often than the test's α allows, and the
// interval of the change covers no change as often as its level says.
func TestSameDistributionIsNoDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	alpha := thresholds.CompareAlpha
	var differs, tooFew, covered int
	for range trials {
		d := compareEstimates(estimateOf(normalSample(rng, 5, 100000, 0.03)), estimateOf(normalSample(rng, 5, 100000, 0.03)))
		switch d.Verdict {
		case verdictDiffers:
			differs++
		case verdictTooFew:
			tooFew++
		}
		if d.Lo <= 0 && 0 <= d.Hi {
			covered++
		}
	}
	share := float64(differs) / trials
	t.Logf("A/A, n=5+5, %d trials: %d called significant (%.1f%%, α = %.0f%%); interval covers 0 in %.1f%%",
		trials, differs, 100*share, 100*alpha, 100*float64(covered)/trials)
	if limit := alpha + binomialMargin(alpha); share > limit {
		t.Errorf("%.1f%% of A/A comparisons called significant, want at most %.1f%% (α plus the binomial margin)", 100*share, 100*limit)
	}
	if tooFew > 0 {
		t.Errorf("%d comparisons of 5+5 reps called too few: 5 each is enough for the test", tooFew)
	}
	if cover := float64(covered) / trials; cover < ciLevel-binomialMargin(ciLevel) {
		t.Errorf("the %.0f%% interval covered no change in only %.1f%% of A/A trials", 100*ciLevel, 100*cover)
	}
}

// TestKnownShiftIsDetected: a real +20% with 3% noise, 5+5 repetitions,
// is called significant, upward, in nearly every trial, and the interval
// holds the true change as often as its level says.
func TestKnownShiftIsDetected(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 2))
	var detected, covered int
	for range trials {
		d := compareEstimates(estimateOf(normalSample(rng, 5, 100000, 0.03)), estimateOf(normalSample(rng, 5, 120000, 0.03)))
		if d.Verdict == verdictDiffers && d.Change > 0 {
			detected++
		}
		if d.Lo <= 0.2 && 0.2 <= d.Hi {
			covered++
		}
	}
	t.Logf("+20%% ± 3%% noise, n=5+5, %d trials: detected in %d, interval holds +20%% in %d", trials, detected, covered)
	if share := float64(detected) / trials; share < 0.99 {
		t.Errorf("a +20%% shift was detected in %.1f%% of trials, want nearly all (≥ 99%%)", 100*share)
	}
	if cover := float64(covered) / trials; cover < ciLevel-binomialMargin(ciLevel) {
		t.Errorf("the %.0f%% interval held the true +20%% in only %.1f%% of trials", 100*ciLevel, 100*cover)
	}
}

// TestIntervalAgreesWithTest: the change's interval inverts the rank test,
// so (without ties) it excludes no change exactly when the test is
// significant; a reader never sees "+3% [−2%, +8%] (p=0.01)".
func TestIntervalAgreesWithTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 3))
	for i := range trials {
		n1, n2 := 4+i%5, 4+(i/5)%5
		shift := 1 + 0.02*float64(i%7)
		d := compareEstimates(estimateOf(normalSample(rng, n1, 1000, 0.03)), estimateOf(normalSample(rng, n2, 1000*shift, 0.03)))
		excludes := d.Lo > 0 || d.Hi < 0
		if excludes != (d.Verdict == verdictDiffers) {
			t.Fatalf("trial %d (n=%d+%d): p=%.4f verdict %v but interval %+.4f…%+.4f", i, n1, n2, d.P, d.Verdict, d.Lo, d.Hi)
		}
	}
}

// TestIntervalNeedsSixRepetitions: the report's texts were written for
// benchmath's six values for a 95% interval of a median.
func TestIntervalNeedsSixRepetitions(t *testing.T) {
	if n := minRepsForCI(); n != 6 {
		t.Errorf("benchmath gives a %.0f%% interval of a median from %d values; the report's texts were written for 6", 100*ciLevel, n)
	}
}

func TestEstimateOf(t *testing.T) {
	nan := math.NaN()
	e := estimateOf([]float64{nan, 7, 3, 5, nan})
	if e.N != 3 || e.Center != 5 || e.Min != 3 || e.Max != 7 || e.hasCI() {
		t.Errorf("estimate %+v: want the median 5 of the 3 measured values, no interval", e)
	}
	six := estimateOf([]float64{10, 11, 12, 13, 14, 15})
	if !six.hasCI() || six.Lo != 10 || six.Hi != 15 || !(six.Confidence >= ciLevel) {
		t.Errorf("six values %+v: want the interval of the extremes at ≥ %.0f%%", six, 100*ciLevel)
	}
	if got := measureRPS.field(six).Text; got != "13 ± 20%" {
		t.Errorf("field %q, want benchstat's \"13 ± 20%%\" (the median 12.5, rounded)", got)
	}
	if got := measureRPS.field(estimateOf([]float64{95210, 97480})).Text; got != "96,345 ± ∞" {
		t.Errorf("two reps %q: the median of two is their mean and has no interval", got)
	}
	if e := estimateOf(nil); e.Known() || !math.IsNaN(e.Center) || measureRPS.field(e).Text != missing {
		t.Errorf("no values: %+v", e)
	}
}
