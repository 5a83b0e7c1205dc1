package report

import (
	"image/color"
	"maps"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The axes whose sweeps get a curve of their own, by their keys in the
// configuration: the load's connections (requests/s against concurrency)
// and its offered rate (latency against offered load).
const (
	connectionsAxis = "connections"
	rateAxis        = "rate"
)

// sweeps draws requests/s against concurrency and latency against offered
// load when the config sweeps those axes.
func (b *chartBuilder) sweeps() []*chart {
	var out []*chart
	if b.sweepsOver(connectionsAxis) {
		for _, g := range b.sweepGroups(connectionsAxis) {
			out = append(out, b.sweepChart(connectionsAxis, g, false))
		}
	}
	if b.sweepsOver(rateAxis) {
		for _, g := range b.sweepGroups(rateAxis) {
			out = append(out, b.sweepChart(rateAxis, g, true))
		}
	}
	return slices.DeleteFunc(out, func(c *chart) bool { return c == nil })
}

// sweepsOver says whether the run varies axis over at least two numeric
// values.
func (b *chartBuilder) sweepsOver(axis string) bool {
	if !slices.Contains(b.r.groupAxes(), axis) {
		return false
	}
	vals := b.r.axisValues(axis)
	return len(vals) >= 2 && !slices.ContainsFunc(vals, func(v string) bool { return !isNumber(v) })
}

func (b *chartBuilder) sweepGroups(axis string) []group {
	others := slices.DeleteFunc(slices.Clone(b.r.groupAxes()), func(x string) bool { return x == axis })
	return groupBy(b.r.Cells, others)
}

// sweepChart draws one line per server along a numeric axis: requests/s
// with min–max bars, or (latency) p99 solid and p50 dashed on a log axis,
// the "hockey stick" where latency turns up as the offered load nears
// what the server can do.
func (b *chartBuilder) sweepChart(axis string, g group, latency bool) *chart {
	var p *plot.Plot
	if latency {
		p = newPlot(axis+" (offered requests/s)", "latency (ms)")
	} else {
		p = newPlot(axis, "requests/s (median of reps)")
		p.Y.Tick.Marker = countTicks{}
		p.Y.Min = 0
	}
	byServer := map[string][]*cell{}
	for _, c := range g.Cells {
		byServer[c.server()] = append(byServer[c.server()], c)
	}
	var legend []legendItem
	var saturated plotter.XYs
	minX, maxX := math.Inf(1), 0.0
	minY, maxY := math.Inf(1), 0.0
	for _, s := range slices.Sorted(maps.Keys(byServer)) {
		cells := byServer[s]
		slices.SortFunc(cells, func(x, y *cell) int { return compareValues(x.Axes[axis], y.Axes[axis]) })
		var med, p50 plotter.XYs
		var errs plotter.YErrors
		for _, c := range cells {
			x, _ := strconv.ParseFloat(c.Axes[axis], 64)
			sum := b.byCell[c]
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
			if latency {
				p99, p5 := sum.percentileUS(99), sum.percentileUS(50)
				if !(p99 > 0) || !(p5 > 0) {
					continue
				}
				med = append(med, plotter.XY{X: x, Y: p99 / 1000})
				p50 = append(p50, plotter.XY{X: x, Y: p5 / 1000})
				minY, maxY = math.Min(minY, p5/1000), math.Max(maxY, p99/1000)
			} else {
				if !sum.RPS.Known() {
					continue
				}
				med = append(med, plotter.XY{X: x, Y: sum.RPS.Center})
				errs = append(errs, struct{ Low, High float64 }{sum.RPS.Center - sum.RPS.Min, sum.RPS.Max - sum.RPS.Center})
			}
			if sum.Saturated {
				saturated = append(saturated, med[len(med)-1])
			}
		}
		if len(med) == 0 {
			continue
		}
		style := b.pal.lineStyle(s)
		l, pts, err := plotter.NewLinePoints(med)
		if err != nil {
			continue
		}
		l.LineStyle = style
		pts.GlyphStyle = draw.GlyphStyle{Color: style.Color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(l, pts)
		if latency {
			if l50, err := plotter.NewLine(p50); err == nil {
				l50.LineStyle = style
				l50.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(l50)
			}
		} else if eb, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{med, errs}); err == nil {
			eb.LineStyle.Color = style.Color
			p.Add(eb)
		}
		legend = append(legend, legendItem{Label: s, Thumbs: []plot.Thumbnailer{l, pts}})
	}
	if len(legend) == 0 {
		return nil
	}
	if len(saturated) > 0 {
		// A ring around every point the client, not the server, set.
		if sc, err := plotter.NewScatter(saturated); err == nil {
			sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5), Shape: draw.RingGlyph{}}
			p.Add(sc)
			legend = append(legend, legendItem{Label: flagSaturated, Thumbs: []plot.Thumbnailer{sc}})
		}
	}
	switch {
	case latency:
		// The hockey stick is read on a linear load axis: the knee is where
		// equal steps of load stop costing equal latency.
		p.X.Min = 0
		p.X.Tick.Marker = countTicks{}
	case maxX/minX >= 8 && minX > 0:
		// Concurrency is swept in factors (1, 10, 100, 1000).
		logAxis(&p.X, minX, maxX)
	}
	if latency {
		logAxis(&p.Y, minY, maxY)
		legend = append(legend,
			legendItem{Label: "p99", Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.6)}}}},
			legendItem{Label: "p50", Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}}},
		)
		return &chart{
			Name:  b.names.unique("latency-vs", axis, groupName(g)),
			Kind:  kindOfferedLoad,
			Title: "Latency vs offered load" + groupSuffix(g),
			Caption: "p99 (solid) and p50 (dashed) at each offered rate. " + sweepSaturationCaption(len(saturated) > 0, "latency") +
				"Where a line without rings turns up sharply, latency grows faster than the load: the server, or the one CPU it was given, is near what it can do.",
			Panels: []*plot.Plot{p},
			Legend: legend,
		}
	}
	return &chart{
		Name:  b.names.unique("rps-vs", axis, groupName(g)),
		Kind:  kindConcurrency,
		Title: "Requests/s vs " + axis + groupSuffix(g),
		Caption: "Median over repetitions with min–max bars. " + sweepSaturationCaption(len(saturated) > 0, "requests/s") +
			"Only a flat stretch of points without rings shows a limit of the server; one with rings shows the load generator's.",
		Panels: []*plot.Plot{p},
		Legend: legend,
	}
}

// sweepSaturationCaption explains the rings on a sweep's points, or says
// that no point needed one.
func sweepSaturationCaption(any bool, what string) string {
	if !any {
		return "The load generator kept up at every point. "
	}
	return "A ringed point is a cell in which the load generator was saturated: its " + what +
		" is what the client could do, not the server. "
}
