package report

import (
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// repDashes tells repetitions of one server apart in the time series.
var repDashes = [][]vg.Length{nil, {vg.Points(5), vg.Points(3)}, {vg.Points(1.5), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}}

// minTimelineWindow is the shortest window the per-second series is drawn
// for: loadgen stores one point per second (finer buckets would need it
// to store them), so a shorter window has one or two points, the last a
// fraction of a second, and its line shows nothing a stall would.
const minTimelineWindow = 5 * time.Second

// timelineWindowsTooShort says whether the group's windows are too short
// for the per-second series to show anything.
func timelineWindowsTooShort(g group) bool {
	return !slices.ContainsFunc(g.Cells, func(c *cell) bool { return c.Window >= minTimelineWindow || c.Window == 0 })
}

// noTimelineNote is what the page says instead of the chart.
func noTimelineNote(windows []time.Duration) string {
	var ws []string
	for _, w := range windows {
		ws = append(ws, w.String())
	}
	return "No time series: the measured windows (" + strings.Join(ws, ", ") + ") are shorter than " + minTimelineWindow.String() +
		", and the load generator keeps one point per second, so a chart of them would have one or two points. " +
		"Run windows of " + minTimelineWindow.String() + " or more to see stalls over time."
}

// timeline plots requests/s and p99 latency second by second, one line per
// repetition, where a stall (a second with few or no answers) shows.
func (b *chartBuilder) timeline(g group) *chart {
	if timelineWindowsTooShort(g) {
		return nil
	}
	top := newPlot("", "requests/s")
	bottom := newPlot("time since start of measurement (s)", "p99 latency (ms)")
	top.Y.Tick.Marker = countTicks{}
	top.Y.Min = 0
	var legend []legendItem
	minY, maxY := math.Inf(1), 0.0
	maxT, maxReps := 0.0, 0
	errPts := plotter.XYs{}
	for _, c := range g.Cells {
		drawn := false
		for ri, rp := range c.countedReps() {
			if len(rp.Series) == 0 {
				continue
			}
			style := b.pal.lineStyle(b.line(c))
			style.Width = vg.Points(1.2)
			if style.Dashes == nil {
				style.Dashes = repDashes[ri%len(repDashes)]
			}
			var rps plotter.XYs
			var lat []plotter.XYs
			var cur plotter.XYs
			for _, pt := range rp.Series {
				rps = append(rps, plotter.XY{X: pt.T, Y: float64(pt.Requests)})
				if pt.Errors > 0 {
					errPts = append(errPts, plotter.XY{X: pt.T, Y: float64(pt.Requests)})
				}
				maxT = math.Max(maxT, pt.T)
				// A second without answers has no latency: break the line
				// there rather than draw a zero a log axis cannot show.
				if pt.Requests == 0 || !(pt.P99US > 0) {
					if len(cur) > 0 {
						lat = append(lat, cur)
						cur = nil
					}
					continue
				}
				y := pt.P99US / 1000
				cur = append(cur, plotter.XY{X: pt.T, Y: y})
				minY, maxY = math.Min(minY, y), math.Max(maxY, y)
			}
			if len(cur) > 0 {
				lat = append(lat, cur)
			}
			if l, err := plotter.NewLine(rps); err == nil {
				l.LineStyle = style
				top.Add(l)
			}
			for _, seg := range lat {
				if len(seg) == 1 {
					if s, err := plotter.NewScatter(seg); err == nil {
						s.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(1.5), Shape: draw.CircleGlyph{}}
						bottom.Add(s)
					}
					continue
				}
				if l, err := plotter.NewLine(seg); err == nil {
					l.LineStyle = style
					bottom.Add(l)
				}
			}
			drawn = true
			maxReps = max(maxReps, ri+1)
		}
		if drawn {
			legend = append(legend, legendItem{Label: b.line(c), Thumbs: []plot.Thumbnailer{swatch{b.pal.colour(b.line(c))}}})
		}
	}
	if len(legend) == 0 {
		return nil
	}
	if len(errPts) > 0 {
		if s, err := plotter.NewScatter(errPts); err == nil {
			s.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{0xc0, 0, 0, 0xff}, Radius: vg.Points(3), Shape: draw.CrossGlyph{}}
			top.Add(s)
			legend = append(legend, legendItem{Label: "second with errors", Thumbs: []plot.Thumbnailer{s}})
		}
	}
	if maxReps > 1 {
		for i := 0; i < maxReps && i < len(repDashes); i++ {
			// Past the last dash pattern the patterns repeat: "rep 1, 5".
			var reps []string
			for r := i + 1; r <= maxReps; r += len(repDashes) {
				reps = append(reps, strconv.Itoa(r))
			}
			legend = append(legend, legendItem{
				Label:  "rep " + strings.Join(reps, ", "),
				Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.2), Dashes: repDashes[i]}}},
			})
		}
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, math.Max(maxT, 1)
	}
	// Without a single latency the axis stays linear: a log scale of
	// nothing has no range.
	if maxY > 0 {
		logAxis(&bottom.Y, minY, maxY)
	}
	return &chart{
		Name:  b.names.unique("timeline", groupName(g)),
		Kind:  kindTimeline,
		Title: "Requests/s and p99 latency over time" + groupSuffix(g),
		Caption: "Each line is one repetition, one point per second. A dip in requests/s with a spike in p99 is a stall; " +
			"gaps in the latency line are seconds without a single answer.",
		Panels:      []*plot.Plot{top, bottom},
		PanelHeight: 2.5 * vg.Inch,
		Legend:      legend,
	}
}
