package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// control is a run's drift control: one cell, the same every time,
// measured at the start, after every Every repetitions and at the end,
// so that the machine's own drift over the run shows and two runs can be
// compared relative to it. Its repetitions are in the order measured.
type control struct {
	Every int
	Cell  *cell
	// Spec says what the control measures (its server and load), so that
	// two runs' controls are known to be the same before one is divided
	// by the other.
	Spec string
}

// controlMeasures are the measures the control is followed on, and that
// runs are compared on relative to it: the two the report ranks by. A
// control's latency says little about another cell's.
var controlMeasures = []measure{measureRPS, measureCPU}

// name is how the page calls the control: its server.
func (c *control) name() string { return c.Cell.server() }

// startTime is when the run began, for the control's time axis: the
// manifest's start, or the first repetition's.
func (r *run) startTime() time.Time {
	if t, err := time.Parse(time.RFC3339, r.Started); err == nil {
		return t
	}
	var first time.Time
	for _, c := range r.allCells() {
		for _, rp := range c.Reps {
			if !rp.Started.IsZero() && (first.IsZero() || rp.Started.Before(first)) {
				first = rp.Started
			}
		}
	}
	return first
}

// minutesIn is when a repetition started, in minutes since the run did.
func (r *run) minutesIn(rp *rep) float64 {
	if rp.Started.IsZero() {
		return math.NaN()
	}
	return rp.Started.Sub(r.startTime()).Minutes()
}

// trend tests the control's counted measurements of m for a trend over
// the run.
func (r *run) controlTrend(m measure) trend {
	var xs, ys []float64
	for _, rp := range r.Control.Cell.countedReps() {
		xs = append(xs, r.minutesIn(rp))
		ys = append(ys, m.perRep(rp))
	}
	return trendOf(xs, ys)
}

// trendText says what the trend test found, in a sentence's words.
func (t trend) text(m measure) string {
	switch t.Verdict {
	case verdictTooFew:
		return fmt.Sprintf("%s: too few counted measurements to test for a trend (n=%d, the test needs ≥ %d)", m.Title, t.N, minTrendPoints())
	case verdictSame:
		return fmt.Sprintf("%s: no trend beyond its own noise (%s, n=%d; Theil–Sen %s over the run)", m.Title, fmtP(t.P), t.N, fmtSignedPercent(t.Change))
	}
	return fmt.Sprintf("%s %s from its first measurement to its last (Theil–Sen; Kendall's trend test %s, n=%d)", m.Title, fmtSignedPercent(t.Change), fmtP(t.P), t.N)
}

// driftWarnings say where the control moved beyond its own noise.
func (r *run) driftWarnings() []string {
	if r.Control == nil {
		return nil
	}
	var moved []string
	for _, m := range controlMeasures {
		if t := r.controlTrend(m); t.Verdict == verdictDiffers {
			moved = append(moved, t.text(m))
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return []string{"The drift control (" + r.Control.name() + ") drifted during the run: " + strings.Join(moved, "; ") + ". " +
		"The machine itself moved: cells measured early and late in the run differ by that as well as by their servers " +
		"(the interleaved order spreads it over every cell, and widens their intervals)."}
}

// controlNote says what the control is, the drift rule, and what it found.
func (r *run) controlNote() string {
	c := r.Control
	var found []string
	for _, m := range controlMeasures {
		found = append(found, r.controlTrend(m).text(m))
	}
	return fmt.Sprintf("The drift control is %s under the run's fixed load, measured at the start, after every %d repetitions and at the end. "+
		"Drift rule: for each of %s, Kendall's rank test for a trend over the control's counted measurements in the order they were taken "+
		"(two-sided, exact, α = %g each; a busy measurement does not count), with the trend's size from the Theil–Sen line "+
		"(the median of the slopes between every two measurements) as the change from the first measurement to the last, relative to the median. "+
		"A trend the test finds is drift beyond the control's own noise, and the page warns of it. Found: %s.",
		c.name(), c.Every, joinAnd(measureNames(controlMeasures)), thresholds.CompareAlpha, strings.Join(found, "; "))
}

func measureNames(ms []measure) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// controlTable lists the control's measurements in the order taken.
func (r *run) controlTable() table {
	t := table{Columns: []column{
		{Title: "#", CSV: []string{"rep"}, Numeric: true},
		{Title: "started", CSV: []string{"minutes"}, Numeric: true, Help: "minutes:seconds since the run started"},
	}}
	for _, m := range controlMeasures {
		t.Columns = append(t.Columns, column{Title: m.Title, CSV: []string{m.Key}, Numeric: true, Help: m.Help})
	}
	t.Columns = append(t.Columns,
		column{Title: "interference", CSV: []string{"worst_pct"}, Numeric: true, Help: "other work + steal on the busier CPU set, steal alone in brackets; ×2: measured twice"},
		column{Title: "counted", CSV: []string{"counted"}},
	)
	for _, rp := range r.Control.Cell.Reps {
		row := []field{textField(strconv.Itoa(rp.Index))}
		started := field{Text: missing, CSV: []string{""}}
		if at := r.minutesIn(rp); !math.IsNaN(at) {
			d := time.Duration(at * float64(time.Minute)).Round(time.Second)
			started = field{Text: fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60), CSV: []string{csvFloat(at, 3)}}
		}
		row = append(row, started)
		for _, m := range controlMeasures {
			v := math.NaN()
			if rp.OK {
				v = m.perRep(rp)
			}
			row = append(row, field{Text: m.text(v), CSV: []string{csvFloat(v, m.csvDigits)}})
		}
		row = append(row, interferenceField(rp))
		counted := textField("yes")
		switch {
		case !rp.OK:
			counted = field{Text: "no: failed", CSV: []string{"no"}, Warn: true, Tip: rp.Reason}
		case !rp.Counts:
			counted = field{Text: "no: machine busy", CSV: []string{"no"}, Warn: true}
		}
		t.Rows = append(t.Rows, append(row, counted))
	}
	return t
}

// controlChart plots the control's requests/s and CPU per request over
// the run, with the Theil–Sen line of each: red where the trend test
// found drift.
func (b *chartBuilder) controlChart() *chart {
	r := b.r
	if r.Control == nil || len(r.Control.Cell.Reps) == 0 {
		return nil
	}
	colour := b.pal.colour(r.Control.name())
	busyGlyph := draw.GlyphStyle{Color: color.Gray{Y: 0x88}, Radius: vg.Points(3.5), Shape: draw.RingGlyph{}}
	driftLine := draw.LineStyle{Color: color.RGBA{0xc0, 0, 0, 0xff}, Width: vg.Points(1.4), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	flatLine := draw.LineStyle{Color: color.Gray{Y: 0x77}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
	var panels []*plot.Plot
	maxX := 0.0
	anyBusy, anyDrift := false, false
	for i, m := range controlMeasures {
		xLabel := ""
		if i == len(controlMeasures)-1 {
			xLabel = "minutes since the run started"
		}
		p := newPlot(xLabel, m.Title)
		var counted, busy plotter.XYs
		for _, rp := range r.Control.Cell.Reps {
			x, y := r.minutesIn(rp), m.perRep(rp)
			if !rp.OK || math.IsNaN(x) || math.IsNaN(y) {
				continue
			}
			maxX = math.Max(maxX, x)
			if rp.Counts {
				counted = append(counted, plotter.XY{X: x, Y: y})
			} else {
				busy = append(busy, plotter.XY{X: x, Y: y})
			}
		}
		if len(counted) > 1 {
			if l, err := plotter.NewLine(counted); err == nil {
				l.LineStyle = draw.LineStyle{Color: colour, Width: vg.Points(1)}
				p.Add(l)
			}
		}
		if s, err := plotter.NewScatter(counted); err == nil && len(counted) > 0 {
			s.GlyphStyle = draw.GlyphStyle{Color: colour, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(s)
		}
		if s, err := plotter.NewScatter(busy); err == nil && len(busy) > 0 {
			s.GlyphStyle = busyGlyph
			p.Add(s)
			anyBusy = true
		}
		if t := r.controlTrend(m); !math.IsNaN(t.Slope) && len(counted) > 1 {
			lo, hi := counted[0].X, counted[len(counted)-1].X
			line := plotter.XYs{{X: lo, Y: t.Intercept + t.Slope*lo}, {X: hi, Y: t.Intercept + t.Slope*hi}}
			if l, err := plotter.NewLine(line); err == nil {
				l.LineStyle = flatLine
				if t.Verdict == verdictDiffers {
					l.LineStyle = driftLine
					anyDrift = true
				}
				p.Add(l)
			}
		}
		p.Y.Tick.Marker = fineTicks{}
		if m.Key == measureRPS.Key {
			p.Y.Tick.Marker = countTicks{}
		}
		panels = append(panels, p)
	}
	for _, p := range panels {
		p.X.Min, p.X.Max = 0, math.Max(maxX*1.05, 0.1)
	}
	legend := []legendItem{
		{Label: r.Control.name() + " (control)", Thumbs: []plot.Thumbnailer{swatch{colour}}},
		{Label: "trend (Theil–Sen)", Thumbs: []plot.Thumbnailer{lineThumb{flatLine}}},
	}
	if anyDrift {
		legend = append(legend, legendItem{Label: "drift", Thumbs: []plot.Thumbnailer{lineThumb{driftLine}}})
	}
	if anyBusy {
		legend = append(legend, legendItem{Label: "busy, not counted", Thumbs: []plot.Thumbnailer{glyphThumb{busyGlyph}}})
	}
	return &chart{
		Name:  b.names.unique("control", r.Control.name()),
		Kind:  kindControl,
		Title: "Drift control (" + r.Control.name() + ") over the run",
		Caption: "Each point is one measurement of the control, at the time it started. The dashed line is the Theil–Sen trend; " +
			"it is red where Kendall's trend test finds drift beyond the control's own noise.",
		Panels:      panels,
		PanelHeight: 2.2 * vg.Inch,
		Legend:      legend,
	}
}

// glyphThumb is a legend thumbnail: one glyph in a style.
type glyphThumb struct{ Style draw.GlyphStyle }

// Thumbnail implements plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) { c.DrawGlyph(g.Style, c.Center()) }
