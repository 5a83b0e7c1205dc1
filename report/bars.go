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
	Label     string // printed above the bar, or inside it when crowded
	// Hatched marks a bar whose value the load generator, not the server,
	// set: it was saturated.
	Hatched bool
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
// several, hatched when the client was saturated.
func (b *bar) showRPS(s summary, colour color.Color) {
	rps := s.RPS
	if !rps.Known() {
		b.Label = "no data"
		return
	}
	b.Segments = []barSegment{{rps.Center, colour}}
	if rps.N > 1 {
		b.Low, b.High = rps.Min, rps.Max
	}
	b.Label = shortCount(rps.Center)
	b.Hatched = s.Saturated
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

func newBars(bs []bar) *bars {
	return &bars{Bars: bs, LabelFont: text.Style{
		Color: color.Gray{Y: 0x33}, Font: font.From(chartFont, 9),
		XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: plot.DefaultTextHandler,
	}}
}

// barPanel is a panel of bars from zero, with ticks that name the
// categories along x.
func barPanel(xLabel, yLabel string, bs []bar, ticks []plot.Tick) *plot.Plot {
	p := newPlot(xLabel, yLabel)
	p.Add(newBars(bs))
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Names side by side that would run into each other are slanted. The
	// data area is not known until the legend is laid out; half the
	// figure is less than it ever gets.
	var names vg.Length
	for _, t := range ticks {
		names += p.X.Tick.Label.Width(t.Label) + vg.Points(8)
	}
	if names > chartWidth/2 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YTop
	}
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
			if len(pts) == 0 {
				// Clipped away: a data area squeezed to nothing by long
				// tick labels.
				continue
			}
			c.FillPolygon(s.Colour, pts)
			c.StrokeLines(edge, append(pts, pts[0]))
			base += s.Value
		}
		if b.Hatched && base > 0 {
			hatch(c, vg.Rectangle{Min: vg.Point{X: x0, Y: trY(0)}, Max: vg.Point{X: x1, Y: trY(base)}})
		}
		if !math.IsNaN(b.Low) && !math.IsNaN(b.High) {
			xm := trX(b.X)
			cap := (x1 - x0) / 4
			lo, hi := trY(b.Low), trY(b.High)
			c.StrokeLine2(whisker, xm, lo, xm, hi)
			c.StrokeLine2(whisker, xm-cap, lo, xm+cap, lo)
			c.StrokeLine2(whisker, xm-cap, hi, xm+cap, hi)
		}
	}
	bs.drawLabels(c, trX, trY)
}

// barLabel is one value label as it will be drawn: its text in a style at
// a point, the box it covers, and (inside a bar) the colour it knocks out
// behind it so hatching does not run through the digits.
type barLabel struct {
	Text     string
	Style    text.Style
	At       vg.Point
	Box      vg.Rectangle
	Knockout color.Color // nil: drawn on the chart's background
}

// drawLabels draws what placeLabels placed.
func (bs *bars) drawLabels(c draw.Canvas, trX, trY func(float64) vg.Length) {
	for _, l := range bs.placeLabels(c, trX, trY) {
		if l.Knockout != nil {
			pad := vg.Points(1.5)
			c.SetColor(l.Knockout)
			c.Fill(vg.Rectangle{Min: l.Box.Min.Sub(vg.Point{X: pad, Y: pad}), Max: l.Box.Max.Add(vg.Point{X: pad, Y: pad})}.Path())
		}
		c.FillText(l.Style, l.At, l.Text)
	}
}

// placeLabels puts the bars' values level above the bars while each fits
// the room between its bar and the next; with more bars it turns them
// upright, above the bar or, where the top of the panel is too near,
// inside it; when even upright text is wider than a bar's room it leaves
// them out, since numbers that run into each other read as nothing (the
// tables give every value).
func (bs *bars) placeLabels(c draw.Canvas, trX, trY func(float64) vg.Length) []barLabel {
	const gap = 2 // points between labels, and between a label and its bar
	room := bs.labelRoom(trX)
	level := true
	for i, b := range bs.Bars {
		level = level && bs.LabelFont.Width(b.Label)+vg.Points(gap) <= room[i]
	}
	upright := bs.LabelFont
	upright.Rotation, upright.XAlign, upright.YAlign = math.Pi/2, draw.XLeft, draw.YCenter
	h := bs.LabelFont.Height("0")
	var out []barLabel
	for i, b := range bs.Bars {
		if b.Label == "" {
			continue
		}
		x, top := trX(b.X), trY(bs.labelBase(b))+vg.Points(gap)
		w := bs.LabelFont.Width(b.Label)
		switch {
		case level:
			out = append(out, barLabel{Text: b.Label, Style: bs.LabelFont, At: vg.Point{X: x, Y: top},
				Box: vg.Rectangle{Min: vg.Point{X: x - w/2, Y: top}, Max: vg.Point{X: x + w/2, Y: top + h}}})
		case h+vg.Points(gap) > room[i]:
			// Too narrow even upright.
		case top+w+vg.Points(gap) <= c.Max.Y:
			out = append(out, barLabel{Text: b.Label, Style: upright, At: vg.Point{X: x, Y: top},
				Box: vg.Rectangle{Min: vg.Point{X: x - h/2, Y: top}, Max: vg.Point{X: x + h/2, Y: top + w}}})
		default:
			// Inside, ending below the whisker's low end.
			end := trY(math.Min(b.top(), nanTo(b.Low, b.top()))) - vg.Points(gap+1)
			if end-w < trY(0)+vg.Points(gap) {
				continue
			}
			bg := b.segmentAt(end-w/2-trY(0), trY)
			inside := upright
			inside.XAlign, inside.Color = draw.XRight, textOn(bg)
			out = append(out, barLabel{Text: b.Label, Style: inside, At: vg.Point{X: x, Y: end}, Knockout: bg,
				Box: vg.Rectangle{Min: vg.Point{X: x - h/2, Y: end - w}, Max: vg.Point{X: x + h/2, Y: end}}})
		}
	}
	return out
}

// labelRoom is, for each bar, the distance from its centre to the nearest
// other bar's centre: the width a label above it may take.
func (bs *bars) labelRoom(trX func(float64) vg.Length) []vg.Length {
	room := make([]vg.Length, len(bs.Bars))
	for i, b := range bs.Bars {
		room[i] = vg.Length(math.Inf(1))
		for j, o := range bs.Bars {
			if i != j {
				d := trX(b.X) - trX(o.X)
				room[i] = min(room[i], max(d, -d))
			}
		}
	}
	return room
}

// labelBase is the value a label sits above: the bar's top or its
// whisker's, whichever is higher.
func (bs *bars) labelBase(b bar) float64 {
	if !math.IsNaN(b.High) {
		return math.Max(b.top(), b.High)
	}
	return b.top()
}

// segmentAt is the colour of the bar at height h above its base, in
// canvas units.
func (b bar) segmentAt(h vg.Length, trY func(float64) vg.Length) color.Color {
	base := 0.0
	for _, s := range b.Segments {
		if trY(base+s.Value)-trY(0) >= h {
			return s.Colour
		}
		base += s.Value
	}
	if len(b.Segments) > 0 {
		return b.Segments[len(b.Segments)-1].Colour
	}
	return color.White
}

// textOn is black or white, whichever reads on background bg.
func textOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	// Rec. 601 luma, in 16-bit channels.
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) > 0.55*0xffff {
		return color.Gray{Y: 0x22}
	}
	return color.White
}

// hatch draws diagonal lines across r: the mark of a value the client set.
func hatch(c draw.Canvas, r vg.Rectangle) {
	style := draw.LineStyle{Color: color.RGBA{0x20, 0x20, 0x20, 0xb0}, Width: vg.Points(0.8)}
	w, h := r.Max.X-r.Min.X, r.Max.Y-r.Min.Y
	step := vg.Points(5)
	// Lines x − y = t for t across the rectangle, each clipped to it.
	for t := -h + step/2; t < w; t += step {
		x0, y0 := max(t, 0), max(-t, 0)
		x1, y1 := min(t+h, w), min(w-t, h)
		c.StrokeLine2(style, r.Min.X+x0, r.Min.Y+y0, r.Min.X+x1, r.Min.Y+y1)
	}
}

func nanTo(v, alt float64) float64 {
	if math.IsNaN(v) {
		return alt
	}
	return v
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
