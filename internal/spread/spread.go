// Package spread summarises repeated measurements the way sockbench quotes
// them: the median and the range, over the values that were measured.
package spread

import (
	"math"
	"slices"
)

// Spread is the median and range of N measured values; NaN when N is 0.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// Of summarises the finite values; NaNs (not measured) are skipped so one
// repetition without a value does not hide the others.
func Of(vs []float64) Spread {
	var xs []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return Spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(xs)
	n := len(xs)
	med := xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	return Spread{Median: med, Min: xs[0], Max: xs[n-1], N: n}
}

// Known reports whether any value was measured.
func (s Spread) Known() bool { return s.N > 0 }

// Overlaps reports whether two ranges share any value: when they do, the
// repetitions cannot tell the two apart.
func (s Spread) Overlaps(o Spread) bool { return s.Min <= o.Max && o.Min <= s.Max }
