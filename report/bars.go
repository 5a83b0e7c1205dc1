package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bar is one bar of a bar chart in data coordinates: segments stack from
// zero, the whisker (NaN when none) marks the min–max over repetitions.
type bar struct {
	X, Width  float64
	Segments  []barSegment
	Low, High float64
	Label     string // printed above the bar
}

type barSegment struct {
	Value  float64
	Colour color.Color
}

// newBar is a bar without segments or whisker yet, centred on x.
func newBar(x, width float64) bar {
	return bar{X: x, Width: width, Low: math.NaN(), High: math.NaN()}
}

// showRPS fills the bar with a cell's requests/s: the median as the bar and
// its label, the range over repetitions as the whisker when there are
// several.
func (b *bar) showRPS(rps spread, colour color.Color) {
	if !rps.Known() {
		b.Label = "no data"
		return
	}
	b.Segments = []barSegment{{rps.Median, colour}}
	if rps.N > 1 {
		b.Low, b.High = rps.Min, rps.Max
	}
	b.Label = shortCount(rps.Median)
}

func (b bar) top() float64 {
	t := 0.0
	for _, s := range b.Segments {
		t += s.Value
	}
	return t
}

// bars draws grouped and stacked bars with whiskers. plotter.BarChart
// places bars by vg.Length offsets, which whiskers in data coordinates
// cannot follow; drawing both in data coordinates keeps them aligned.
type bars struct {
	Bars      []bar
	LabelFont text.Style
}

// barPanel is a panel of bars from zero, with ticks that name the
// categories along x.
func barPanel(xLabel, yLabel string, bs []bar, ticks []plot.Tick) *plot.Plot {
	p := newPlot(xLabel, yLabel)
	p.Add(&bars{Bars: bs, LabelFont: text.Style{
		Color: color.Gray{Y: 0x33}, Font: font.From(chartFont, 9),
		XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: plot.DefaultTextHandler,
	}})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min = 0
	return p
}

// Plot implements plot.Plotter.
func (bs *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	edge := draw.LineStyle{Color: color.Gray{Y: 0x55}, Width: vg.Points(0.4)}
	whisker := draw.LineStyle{Color: color.Black, Width: vg.Points(0.9)}
	for _, b := range bs.Bars {
		x0, x1 := trX(b.X-b.Width/2), trX(b.X+b.Width/2)
		base := 0.0
		for _, s := range b.Segments {
			if !(s.Value > 0) {
				continue
			}
			y0, y1 := trY(base), trY(base+s.Value)
			pts := c.ClipPolygonY([]vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}})
			c.FillPolygon(s.Colour, pts)
			c.StrokeLines(edge, append(pts, pts[0]))
			base += s.Value
		}
		top := base
		if !math.IsNaN(b.Low) && !math.IsNaN(b.High) {
			xm := trX(b.X)
			cap := (x1 - x0) / 4
			lo, hi := trY(b.Low), trY(b.High)
			c.StrokeLine2(whisker, xm, lo, xm, hi)
			c.StrokeLine2(whisker, xm-cap, lo, xm+cap, lo)
			c.StrokeLine2(whisker, xm-cap, hi, xm+cap, hi)
			top = math.Max(top, b.High)
		}
		// Past a dozen or so bars the value labels collide; the axis and
		// the tables still give the numbers.
		if b.Label != "" && (len(bs.Bars) <= 14 || len(b.Segments) == 0) {
			c.FillText(bs.LabelFont, vg.Point{X: trX(b.X), Y: trY(top) + vg.Points(2)}, b.Label)
		}
	}
}

// DataRange implements plot.DataRanger; bars always start at zero and
// leave room above for their labels.
func (bs *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, b := range bs.Bars {
		xmin = math.Min(xmin, b.X-b.Width/2)
		xmax = math.Max(xmax, b.X+b.Width/2)
		ymax = math.Max(ymax, b.top())
		if !math.IsNaN(b.High) {
			ymax = math.Max(ymax, b.High)
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	// A little air between the axes and the outermost bars.
	return xmin - 0.1, xmax + 0.1, 0, ymax * 1.12
}

// shortCount writes a bar label: "41.2k", "1.05M", "870".
func shortCount(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return ""
	case a >= 1e6:
		return fmtSig(v/1e6, 3) + "M"
	case a >= 1e3:
		return fmtSig(v/1e3, 3) + "k"
	}
	return fmtSig(v, 3)
}
