package spread

import (
	"math"
	"testing"
)

func TestOf(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		in               []float64
		median, min, max float64
		n                int
	}{
		{[]float64{3}, 3, 3, 3, 1},
		{[]float64{5, 1, 3}, 3, 1, 5, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{[]float64{100, 1, 2}, 2, 1, 100, 3}, // one outlier does not move the median
		{[]float64{nan, 2, 4}, 3, 2, 4, 2},
	}
	for _, c := range cases {
		s := Of(c.in)
		if s.Median != c.median || s.Min != c.min || s.Max != c.max || s.N != c.n {
			t.Errorf("Of(%v) = %+v, want median %v min %v max %v n %d", c.in, s, c.median, c.min, c.max, c.n)
		}
	}
	if s := Of(nil); !math.IsNaN(s.Median) || s.N != 0 {
		t.Errorf("Of(nil) = %+v", s)
	}
}

func TestOverlaps(t *testing.T) {
	a, b, c := Of([]float64{1, 3}), Of([]float64{3, 5}), Of([]float64{4, 6})
	if !a.Overlaps(b) || a.Overlaps(c) || !Of([]float64{2}).Known() || Of(nil).Known() {
		t.Errorf("overlap or known wrong: %+v %+v %+v", a, b, c)
	}
}
