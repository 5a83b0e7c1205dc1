package report

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// countTicks labels a linear axis of counts with "20k" rather than "20000".
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		// Tick values are round already: print them as short as they are.
		switch v := ts[i].Value; {
		case math.Abs(v) >= 1e6:
			ts[i].Label = strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
		case math.Abs(v) >= 1e3:
			ts[i].Label = strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
		default:
			ts[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ts
}

// fineTicks label a linear axis with as many decimals as its tick step
// needs, so a narrow range (a drift control's 9.98 to 10.04) does not
// read "10, 10, 10".
type fineTicks struct{}

// Ticks implements plot.Ticker.
func (fineTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, t := range ts {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	if len(major) < 2 {
		return ts
	}
	decimals := max(0, int(math.Ceil(-math.Log10(major[1]-major[0])-1e-9)))
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', decimals, 64)
		}
	}
	return ts
}

// percentileTicks label the 1/(1−p) axis of a latency distribution.
func percentileTicks(maxX float64) plot.ConstantTicks {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	var ts plot.ConstantTicks
	for i, l := range labels {
		v := math.Pow(10, float64(i))
		if v > maxX*1.0001 {
			break
		}
		ts = append(ts, plot.Tick{Value: v, Label: l})
		for m := 2.0; m < 10 && i < len(labels)-1; m++ {
			if m*v < maxX {
				ts = append(ts, plot.Tick{Value: m * v})
			}
		}
	}
	return ts
}

// logTicks labels a log axis at 1, 2 and 5 per decade when the range is
// short enough for that to stay legible, else at powers of ten only.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	decades := math.Log10(hi / lo)
	first := math.Floor(math.Log10(lo))
	var ts []plot.Tick
	for e := first; math.Pow(10, e) <= hi*1.0001; e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo*0.9999 || v > hi*1.0001 {
				continue
			}
			label := ""
			if m == 1 || (decades <= 2.5 && (m == 2 || m == 5)) {
				label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ts = append(ts, plot.Tick{Value: v, Label: label})
		}
	}
	return ts
}

// logAxis puts an axis on a log scale labelled by logTicks, its range
// padded around the data from lo to hi.
func logAxis(a *plot.Axis, lo, hi float64) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicks{}
	padLogRange(a, lo, hi)
}

// padLogRange widens a log axis to whole 1-2-5 steps around the data so the
// ends carry labels.
func padLogRange(a *plot.Axis, lo, hi float64) {
	if !(lo > 0) || !(hi > 0) {
		return
	}
	step := func(v float64, up bool) float64 {
		e := math.Pow(10, math.Floor(math.Log10(v)))
		for _, m := range []float64{1, 2, 5, 10} {
			if up && m*e >= v*0.9999 {
				return m * e
			}
		}
		if up {
			return 10 * e
		}
		for _, m := range []float64{5, 2, 1} {
			if m*e <= v*1.0001 {
				return m * e
			}
		}
		return e
	}
	a.Min, a.Max = step(lo, false), step(hi, true)
	if a.Max <= a.Min {
		a.Max = a.Min * 10
	}
}
