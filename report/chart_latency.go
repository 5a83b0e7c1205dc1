package report

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// latencyDistribution plots latency against percentile on HdrHistogram's
// log scale, x = 1/(1−p), which spreads the tail (99%, 99.9%, …) evenly.
func (b *chartBuilder) latencyDistribution(g group) *chart {
	p := newPlot("percentile", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	minY, maxY, maxX := math.Inf(1), 0.0, 10.0
	var legend []legendItem
	for _, c := range g.Cells {
		s := b.byCell[c]
		h := s.Latency
		if h == nil || h.TotalCount() < 2 {
			continue
		}
		n := float64(h.TotalCount())
		var pts plotter.XYs
		for k := 0.0; ; k++ {
			x := math.Pow(10, k/10)
			if x > n {
				break
			}
			q := 100 * (1 - 1/x)
			pts = append(pts, plotter.XY{X: x, Y: math.Max(float64(h.ValueAtPercentile(q)), 1) / 1000})
		}
		pts = append(pts, plotter.XY{X: n, Y: math.Max(float64(h.Max()), 1) / 1000})
		line, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		line.LineStyle = b.pal.lineStyle(c.server())
		p.Add(line)
		legend = append(legend, legendItem{Label: c.server(), Thumbs: []plot.Thumbnailer{line}})
		for _, pt := range pts {
			minY, maxY = math.Min(minY, pt.Y), math.Max(maxY, pt.Y)
		}
		maxX = math.Max(maxX, n)
	}
	if len(legend) == 0 {
		return nil
	}
	p.X.Min, p.X.Max = 1, maxX
	p.X.Tick.Marker = percentileTicks(maxX)
	logAxis(&p.Y, minY, maxY)
	return &chart{
		Name:  b.names.unique("latency", groupName(g)),
		Kind:  kindLatency,
		Title: "Latency by percentile" + groupSuffix(g),
		Caption: "Every request of the repetitions that count (merged HdrHistograms). Each step right is ten times rarer: " +
			"90%, 99%, 99.9%…; a line that bends up early has a heavy tail. Both axes are logarithmic.",
		Panels: []*plot.Plot{p},
		Legend: legend,
	}
}
