package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/sockbench/sockbench/internal/atomicfile"
)

// chart is one figure of the report: one or more panels stacked vertically
// and a legend in its own column to the right, where it can never cover
// the data.
type chart struct {
	// Name is the file name without extension, unique within a report.
	Name string
	// Title heads the figure on the page; Caption says how to read it.
	Title, Caption string
	Kind           chartKind
	Panels         []*plot.Plot
	// PanelHeight overrides the default height of each panel.
	PanelHeight vg.Length
	Legend      []legendItem
}

// chartKind sorts charts into the page's sections.
type chartKind int

const (
	kindThroughput chartKind = iota
	kindConcurrency
	kindLatency
	kindOfferedLoad
	kindTimeline
	kindCPU
)

// chartSections lists the page's chart sections in the order a reader
// asks: how fast and at what cost, how it scales, how the tail looks,
// whether it stalled. Requests/s and CPU share a section so each pair of
// charts sits side by side.
var chartSections = []struct {
	Title string
	Kinds []chartKind
}{
	{"Requests/s and server CPU per request", []chartKind{kindThroughput, kindCPU}},
	{"Requests/s vs concurrency", []chartKind{kindConcurrency}},
	{"Latency distribution", []chartKind{kindLatency}},
	{"Latency vs offered load", []chartKind{kindOfferedLoad}},
	{"Over time", []chartKind{kindTimeline}},
}

type legendItem struct {
	Label  string
	Thumbs []plot.Thumbnailer
}

// Figure geometry: about 540 CSS pixels wide, so two figures sit side by
// side on a laptop screen with their text at body size; PNGs are drawn at
// twice that for sharp text.
const (
	chartWidth  = 5.6 * vg.Inch
	panelHeight = 3.2 * vg.Inch
	pngDPI      = 192
)

var (
	chartFont  = font.Font{Typeface: "Liberation", Variant: "Sans"}
	gridColour = color.Gray{Y: 0xdd}
)

// newPlot returns a panel with the report's fonts and a light grid; the
// chart, not the panel, carries the title, so it can span the legend too.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(chartFont, 11)
		a.Tick.Label.Font = font.From(chartFont, 10)
		a.Tick.Length = vg.Points(4)
	}
	p.X.Padding, p.Y.Padding = vg.Points(2), vg.Points(2)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColour, gridColour
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(g)
	return p
}

func (ch *chart) height() vg.Length {
	h := ch.PanelHeight
	if h == 0 {
		h = panelHeight
	}
	return h * vg.Length(len(ch.Panels))
}

// draw lays the legend column out first, then aligns the panels in what is
// left so stacked panels share their x positions.
func (ch *chart) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	if ch.Title != "" {
		title := text.Style{
			Color: color.Black, Font: font.From(chartFont, 12.5), Handler: plot.DefaultTextHandler,
			XAlign: draw.XCenter, YAlign: draw.YTop,
		}
		// A title naming many fixed axes shrinks rather than run off the
		// image.
		for title.Font.Size > vg.Points(8) && title.Width(ch.Title) > c.Max.X-c.Min.X-vg.Points(12) {
			title.Font.Size -= vg.Points(0.5)
		}
		c.FillText(title, vg.Point{X: c.Center().X, Y: c.Max.Y - vg.Points(6)}, ch.Title)
		c.Max.Y -= title.Height(ch.Title) + vg.Points(10)
	}
	legend := plot.NewLegend()
	legend.TextStyle.Font = font.From(chartFont, 10.5)
	legend.TextStyle.Handler = plot.DefaultTextHandler
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)
	legend.ThumbnailWidth = vg.Points(22)
	var legendWidth vg.Length
	for _, it := range ch.Legend {
		legend.Add(it.Label, it.Thumbs...)
		w := legend.ThumbnailWidth + legend.TextStyle.Width(" "+it.Label) + vg.Points(14)
		legendWidth = max(legendWidth, w)
	}
	// Long server names must not squeeze the data to nothing.
	legendWidth = min(legendWidth, (c.Max.X-c.Min.X)*0.4)
	area := c
	if len(ch.Legend) > 0 {
		area.Max.X -= legendWidth
		lc := c
		lc.Min.X = area.Max.X + vg.Points(6)
		lc.Max.Y -= vg.Points(4)
		legend.Draw(lc)
	}
	tiles := draw.Tiles{
		Rows: len(ch.Panels), Cols: 1,
		PadX: vg.Points(4), PadY: vg.Points(12),
		PadTop: vg.Points(6), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8),
	}
	grid := make([][]*plot.Plot, len(ch.Panels))
	for i, p := range ch.Panels {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, area)
	for i, p := range ch.Panels {
		p.Draw(canvases[i][0])
	}
}

// save writes the chart as PNG and SVG into dir. gonum panics on some
// degenerate inputs (an empty log-scale range, for one); the report turns
// that into an error naming the chart rather than crash a finished run.
func (ch *chart) save(dir string) (pngPath, svgPath string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("draw chart %s: %v", ch.Name, v)
		}
	}()
	w, h := chartWidth, ch.height()

	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(pngDPI))
	ch.draw(draw.New(img))
	var pngBuf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pngBuf); err != nil {
		return "", "", fmt.Errorf("encode chart %s as PNG: %w", ch.Name, err)
	}

	svg := vgsvg.New(w, h)
	ch.draw(draw.New(svg))
	var svgBuf bytes.Buffer
	if _, err := svg.WriteTo(&svgBuf); err != nil {
		return "", "", fmt.Errorf("encode chart %s as SVG: %w", ch.Name, err)
	}

	pngPath = filepath.Join(dir, ch.Name+".png")
	svgPath = filepath.Join(dir, ch.Name+".svg")
	if err := atomicfile.Write(pngPath, pngBuf.Bytes()); err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(svgPath, svgBuf.Bytes()); err != nil {
		return "", "", err
	}
	return pngPath, svgPath, nil
}

// swatch is a legend thumbnail: a filled square for bars.
type swatch struct{ Colour color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	side := min(r.Max.Y-r.Min.Y, r.Max.X-r.Min.X)
	pad := (r.Max.X - r.Min.X - side) / 2
	sq := vg.Rectangle{Min: vg.Point{X: r.Min.X + pad, Y: r.Min.Y}, Max: vg.Point{X: r.Min.X + pad + side, Y: r.Min.Y + side}}
	c.SetColor(s.Colour)
	c.Fill(sq.Path())
}

// lineThumb is a legend thumbnail: a short line in a style.
type lineThumb struct{ Style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.Style, c.Min.X, y, c.Max.X, y)
}

func serverLineStyle(pal palette, server string) draw.LineStyle {
	return draw.LineStyle{Color: pal.colour(server), Width: vg.Points(1.6), Dashes: pal.dashes(server)}
}

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

func newBars() *bars {
	return &bars{LabelFont: text.Style{
		Color: color.Gray{Y: 0x33}, Font: font.From(chartFont, 9),
		XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: plot.DefaultTextHandler,
	}}
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
