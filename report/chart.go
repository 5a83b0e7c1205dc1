package report

import (
	"bytes"
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
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
	// DPI overrides pngDPI: figures meant to be committed beside a
	// Markdown file (the forum's claims) are kept small.
	DPI float64
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
	// kindControl is the drift control's chart, shown in its own section
	// with its table rather than among chartSections.
	kindControl
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

	dpi := float64(pngDPI)
	if ch.DPI > 0 {
		dpi = ch.DPI
	}
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(int(dpi)))
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
	if err := writeBytes(pngPath, pngBuf.Bytes()); err != nil {
		return "", "", err
	}
	if err := writeBytes(svgPath, svgBuf.Bytes()); err != nil {
		return "", "", err
	}
	return pngPath, svgPath, nil
}

// swatch is a legend thumbnail: a filled square for bars.
type swatch struct{ Colour color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.SetColor(s.Colour)
	c.Fill(thumbSquare(c.Rectangle).Path())
}

// thumbSquare is the largest square centred across r, on its bottom.
func thumbSquare(r vg.Rectangle) vg.Rectangle {
	side := min(r.Max.Y-r.Min.Y, r.Max.X-r.Min.X)
	pad := (r.Max.X - r.Min.X - side) / 2
	return vg.Rectangle{Min: vg.Point{X: r.Min.X + pad, Y: r.Min.Y}, Max: vg.Point{X: r.Min.X + pad + side, Y: r.Min.Y + side}}
}

// hatchSwatch is a legend thumbnail: a hatched square, the mark of a
// bar the client, not the server, set.
type hatchSwatch struct{}

// Thumbnail implements plot.Thumbnailer.
func (hatchSwatch) Thumbnail(c *draw.Canvas) {
	sq := thumbSquare(c.Rectangle)
	c.SetColor(color.Gray{Y: 0xee})
	c.Fill(sq.Path())
	hatch(*c, sq)
}

// lineThumb is a legend thumbnail: a short line in a style.
type lineThumb struct{ Style draw.LineStyle }

// Thumbnail implements plot.Thumbnailer.
func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.Style, c.Min.X, y, c.Max.X, y)
}
