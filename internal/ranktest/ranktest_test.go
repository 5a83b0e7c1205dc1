package ranktest

import (
	"math"
	"strings"
	"testing"
)

const level = 0.95

func TestNewSample(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		in               []float64
		median, min, max float64
		n                int
	}{
		{[]float64{3}, 3, 3, 3, 1},
		{[]float64{5, 1, 3}, 3, 1, 5, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{[]float64{100, 1, 2}, 2, 1, 100, 3}, // one outlier does not move the median
		{[]float64{nan, 2, math.Inf(1), 4}, 3, 2, 4, 2},
	} {
		s := NewSample(c.in)
		if s.Median != c.median || s.Min != c.min || s.Max != c.max || s.N() != c.n {
			t.Errorf("NewSample(%v) = %+v, want median %v min %v max %v n %d", c.in, s, c.median, c.min, c.max, c.n)
		}
	}
	if s := NewSample(nil); !math.IsNaN(s.Median) || s.N() != 0 {
		t.Errorf("NewSample(nil) = %+v", s)
	}
	if lo, hi, conf := NewSample([]float64{10, 11, 12, 13, 14, 15}).Interval(level); lo != 10 || hi != 15 || !(conf >= level) {
		t.Errorf("six values: interval %v…%v at %v, want the extremes at ≥ %v", lo, hi, conf, level)
	}
	if lo, hi, _ := NewSample([]float64{1, 2, 3}).Interval(level); !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		t.Errorf("three values: interval %v…%v, want none (infinite)", lo, hi)
	}
}

// TestVerdicts: each thing a comparison can say, in benchstat's words;
// with fewer repetitions than the test needs, even two samples that do
// not overlap are "too few to tell", never a difference, and the number
// needed comes from benchmath.
func TestVerdicts(t *testing.T) {
	if n := MinRepsToTell(); n != 4 {
		t.Errorf("benchmath needs %d reps a side at α = %g; sockbench's texts were written for 4", n, Thresholds.CompareAlpha)
	}
	if n := MinRepsForInterval(level); n != 6 {
		t.Errorf("benchmath gives a 95%% interval of a median from %d values, want 6", n)
	}
	for _, tt := range []struct {
		a, b    []float64
		verdict Verdict
		want    string
	}{
		{[]float64{100, 101}, []float64{200, 201}, TooFew, "too few repetitions to tell (n=2+2, need ≥ 4 each)"},
		{[]float64{100, 101, 102}, []float64{200, 201, 202}, TooFew, "too few repetitions to tell (n=3+3, need ≥ 4 each)"},
		{[]float64{100}, []float64{200, 201, 202, 203, 204, 205}, TooFew, "too few repetitions to tell (n=1+6, need ≥ 4 each)"},
		{[]float64{100, 101, 102, 103}, []float64{200, 201, 202, 203}, Differs, "+98.5% [+94.2%, +103.0%] (p=0.029, n=4+4)"},
		{[]float64{100, 101, 102, 103, 104}, []float64{80, 81, 82, 83, 84}, Differs, "−19.6% [−22.1%, −17.0%] (p=0.008, n=5+5)"},
		{[]float64{100, 102, 104, 101, 103}, []float64{101, 103, 100, 104, 102}, Same, "no significant difference (p=1.000, n=5+5)"},
		{nil, []float64{1, 2}, NoData, "no data"},
	} {
		d := Compare(NewSample(tt.a), NewSample(tt.b), level)
		if d.Verdict != tt.verdict || d.String() != tt.want {
			t.Errorf("%v against %v: %v %q, want %v %q", tt.a, tt.b, d.Verdict, d, tt.verdict, tt.want)
		}
	}
}

// TestWorse: a significant change is worse only in the direction the
// measure counts as worse, and a change that is not significant never is.
func TestWorse(t *testing.T) {
	slower := Compare(NewSample([]float64{100, 101, 102, 103, 104}), NewSample([]float64{80, 81, 82, 83, 84}), level)
	if !slower.Worse(true) || slower.Worse(false) {
		t.Errorf("a drop is worse for req/s and better for CPU: %v", slower)
	}
	same := Compare(NewSample([]float64{100, 102, 104, 101, 103}), NewSample([]float64{99, 101, 100, 103, 102}), level)
	if same.Worse(true) || same.Worse(false) {
		t.Errorf("no significant difference is worse: %v", same)
	}
	if got := FormatChange(-0.0004); got != "+0.0%" || !strings.HasPrefix(slower.String(), "−") {
		t.Errorf("FormatChange(-0.0004) = %q, %q: want no minus on nothing and a true minus sign on a drop", got, slower)
	}
}
