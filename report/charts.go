package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Axis names that mean "number of concurrent connections" and "offered
// request rate"; a config that sweeps one of them gets the matching curve.
var (
	concurrencyAxes = []string{"connections", "concurrency", "conns", "clients"}
	rateAxes        = []string{"rate", "offered_rate", "target_rate", "rps"}
)

// chartBuilder holds what every chart of one report shares, above all the
// palette, so a server keeps its colour from the first chart to the last.
type chartBuilder struct {
	r      *run
	pal    palette
	byCell map[*cell]summary
	names  map[string]int
}

func newChartBuilder(r *run, sums []summary, pal palette) *chartBuilder {
	b := &chartBuilder{r: r, pal: pal, byCell: map[*cell]summary{}, names: map[string]int{}}
	for _, s := range sums {
		b.byCell[s.Cell] = s
	}
	return b
}

// all returns the report's charts in the order the page shows them.
func (b *chartBuilder) all() []*chart {
	var out []*chart
	for _, l := range b.barLayouts() {
		out = append(out, b.throughputBars(l))
	}
	groups := groupBy(b.r.Cells, b.r.groupAxes())
	for _, g := range groups {
		if ch := b.latencyDistribution(g); ch != nil {
			out = append(out, ch)
		}
	}
	for _, g := range groups {
		if ch := b.timeline(g); ch != nil {
			out = append(out, ch)
		}
	}
	out = append(out, b.sweeps()...)
	for _, l := range b.barLayouts() {
		if ch := b.cpuBars(l); ch != nil {
			out = append(out, ch)
		}
	}
	return out
}

// uniqueName turns a description into a file name no other chart of the
// report has.
func (b *chartBuilder) uniqueName(parts ...string) string {
	var s strings.Builder
	for _, p := range parts {
		for _, r := range strings.ToLower(p) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
				s.WriteRune(r)
			default:
				if str := s.String(); str != "" && !strings.HasSuffix(str, "-") {
					s.WriteByte('-')
				}
			}
		}
		if str := s.String(); str != "" && !strings.HasSuffix(str, "-") {
			s.WriteByte('-')
		}
	}
	name := strings.Trim(s.String(), "-")
	b.names[name]++
	if n := b.names[name]; n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name
}

// barLayout is one bar chart's arrangement: categories along x are the
// values of Axis (one empty category when no axis but the server varies),
// with the other varying axes fixed by Group.
type barLayout struct {
	Axis       string
	Group      group
	Categories []string
}

func (b *chartBuilder) barLayouts() []barLayout {
	axes := b.r.groupAxes()
	if len(axes) == 0 {
		return []barLayout{{Group: group{Cells: b.r.Cells}, Categories: []string{""}}}
	}
	var out []barLayout
	for _, a := range axes {
		others := slices.DeleteFunc(slices.Clone(axes), func(x string) bool { return x == a })
		for _, g := range groupBy(b.r.Cells, others) {
			out = append(out, barLayout{Axis: a, Group: g, Categories: b.r.axisValues(a)})
		}
	}
	return out
}

func (l barLayout) subtitle() string {
	if len(l.Group.Fixed) == 0 {
		return ""
	}
	return " (" + l.Group.Label() + ")"
}

// placeBars positions one bar per server in each category and returns the
// bars with the x-axis ticks that name them.
func (b *chartBuilder) placeBars(l barLayout, fill func(c *cell, bar *bar)) ([]bar, []plot.Tick, string) {
	var servers []string
	for _, c := range l.Group.Cells {
		if !slices.Contains(servers, c.server()) {
			servers = append(servers, c.server())
		}
	}
	slices.Sort(servers)
	n := float64(len(servers))
	slot := 0.8 / n
	var out []bar
	var ticks []plot.Tick
	for i, cat := range l.Categories {
		for j, s := range servers {
			idx := slices.IndexFunc(l.Group.Cells, func(c *cell) bool {
				return c.server() == s && (l.Axis == "" || c.Axes[l.Axis] == cat)
			})
			if idx < 0 {
				continue
			}
			bb := bar{X: float64(i) + (float64(j)-(n-1)/2)*slot, Width: slot * 0.88, Low: math.NaN(), High: math.NaN()}
			fill(l.Group.Cells[idx], &bb)
			out = append(out, bb)
			if l.Axis == "" {
				ticks = append(ticks, plot.Tick{Value: bb.X, Label: s})
			}
		}
		if l.Axis != "" {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: cat})
		}
	}
	xLabel := l.Axis
	if xLabel == "" {
		xLabel = serverAxis
	}
	return out, ticks, xLabel
}

func (b *chartBuilder) serverLegend(cells []*cell, thumb func(server string) plot.Thumbnailer) []legendItem {
	var items []legendItem
	var seen []string
	for _, c := range cells {
		if !slices.Contains(seen, c.server()) {
			seen = append(seen, c.server())
		}
	}
	slices.Sort(seen)
	for _, s := range seen {
		items = append(items, legendItem{Label: s, Thumbs: []plot.Thumbnailer{thumb(s)}})
	}
	return items
}

func (b *chartBuilder) throughputBars(l barLayout) *chart {
	by := ""
	if l.Axis != "" {
		by = " by " + l.Axis
	}
	p := newPlot("", "requests/s (median of reps)")
	bs := newBars()
	var ticks []plot.Tick
	bs.Bars, ticks, p.X.Label.Text = b.placeBars(l, func(c *cell, bb *bar) {
		s := b.byCell[c]
		if !s.RPS.Known() {
			bb.Label = "no data"
			return
		}
		bb.Segments = []barSegment{{s.RPS.Median, b.pal.colour(c.server())}}
		if s.RPS.N > 1 {
			bb.Low, bb.High = s.RPS.Min, s.RPS.Max
		}
		bb.Label = shortCount(s.RPS.Median)
	})
	p.Add(bs)
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Tick.Marker = countTicks{}
	p.Y.Min = 0
	return &chart{
		Name:    b.uniqueName("rps", l.Axis, groupName(l.Group)),
		Kind:    kindThroughput,
		Title:   "Requests/s" + by + l.subtitle(),
		Caption: "Bars are the median over the successful repetitions; whiskers span the lowest to the highest repetition.",
		Panels:  []*plot.Plot{p},
		Legend:  b.serverLegend(l.Group.Cells, func(s string) plot.Thumbnailer { return swatch{b.pal.colour(s)} }),
	}
}

func (b *chartBuilder) cpuBars(l barLayout) *chart {
	var any bool
	for _, c := range l.Group.Cells {
		s := b.byCell[c]
		any = any || s.CPUUser.Known() || s.CPUSys.Known()
	}
	if !any {
		return nil
	}
	by := ""
	if l.Axis != "" {
		by = " by " + l.Axis
	}
	p := newPlot("", "CPU µs per request")
	bs := newBars()
	var ticks []plot.Tick
	bs.Bars, ticks, p.X.Label.Text = b.placeBars(l, func(c *cell, bb *bar) {
		s := b.byCell[c]
		if !s.CPUUser.Known() && !s.CPUSys.Known() {
			bb.Label = "n/a"
			return
		}
		user, sys := zeroIfNaN(s.CPUUser.Median), zeroIfNaN(s.CPUSys.Median)
		col := b.pal.colour(c.server())
		bb.Segments = []barSegment{{user, col}, {sys, light(col)}}
		bb.Label = fmtSig(user+sys, 3)
	})
	p.Add(bs)
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min = 0
	legend := b.serverLegend(l.Group.Cells, func(s string) plot.Thumbnailer { return swatch{b.pal.colour(s)} })
	legend = append(legend,
		legendItem{Label: "user (dark)", Thumbs: []plot.Thumbnailer{swatch{greyRGBA(0x66)}}},
		legendItem{Label: "system (light)", Thumbs: []plot.Thumbnailer{swatch{light(greyRGBA(0x66))}}},
	)
	return &chart{
		Name:  b.uniqueName("cpu", l.Axis, groupName(l.Group)),
		Kind:  kindCPU,
		Title: "Server CPU µs per request" + by + l.subtitle(),
		Caption: "User CPU (dark) with system CPU (light) stacked on it, medians over repetitions. " +
			"1,000,000 ÷ this number is the requests/s one fully busy core could serve: the per-request budget of thread post #8.",
		Panels: []*plot.Plot{p},
		Legend: legend,
	}
}

func zeroIfNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
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

// latencyDistribution plots latency against percentile on HdrHistogram's
// log scale, x = 1/(1−p), which spreads the tail (99%, 99.9%, …) evenly.
func (b *chartBuilder) latencyDistribution(g group) *chart {
	p := newPlot("percentile", "latency (ms)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
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
		line.LineStyle = serverLineStyle(b.pal, c.server())
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
	padLogRange(&p.Y, minY, maxY)
	p.Y.Tick.Marker = logTicks{}
	return &chart{
		Name:  b.uniqueName("latency", groupName(g)),
		Kind:  kindLatency,
		Title: "Latency by percentile" + groupSuffix(g),
		Caption: "Every request of the successful repetitions (merged HdrHistograms). Each step right is ten times rarer: " +
			"90%, 99%, 99.9%…; a line that bends up early has a heavy tail. Both axes are logarithmic.",
		Panels: []*plot.Plot{p},
		Legend: legend,
	}
}

// groupName is the group's part of a file name: empty for the one group of
// a run in which only the server varies.
func groupName(g group) string {
	if len(g.Fixed) == 0 {
		return ""
	}
	return g.Label()
}

func groupSuffix(g group) string {
	if len(g.Fixed) == 0 {
		return ""
	}
	return " (" + g.Label() + ")"
}

// repDashes tells repetitions of one server apart in the time series.
var repDashes = [][]vg.Length{nil, {vg.Points(5), vg.Points(3)}, {vg.Points(1.5), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}}

// timeline plots requests/s and p99 latency second by second, one line per
// repetition, where a stall (a second with few or no answers) shows.
func (b *chartBuilder) timeline(g group) *chart {
	top := newPlot("", "requests/s")
	bottom := newPlot("time since start of measurement (s)", "p99 latency (ms)")
	bottom.Y.Scale = plot.LogScale{}
	top.Y.Tick.Marker = countTicks{}
	top.Y.Min = 0
	var legend []legendItem
	minY, maxY := math.Inf(1), 0.0
	maxT, maxReps := 0.0, 0
	errPts := plotter.XYs{}
	for _, c := range g.Cells {
		drawn := false
		for ri, rp := range c.okReps() {
			if len(rp.Series) == 0 {
				continue
			}
			style := serverLineStyle(b.pal, c.server())
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
			legend = append(legend, legendItem{Label: c.server(), Thumbs: []plot.Thumbnailer{swatch{b.pal.colour(c.server())}}})
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
			legend = append(legend, legendItem{
				Label:  fmt.Sprintf("rep %d", i+1),
				Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.2), Dashes: repDashes[i]}}},
			})
		}
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, math.Max(maxT, 1)
	}
	if maxY > 0 {
		padLogRange(&bottom.Y, minY, maxY)
		bottom.Y.Tick.Marker = logTicks{}
	} else {
		bottom.Y.Scale = plot.LinearScale{}
	}
	return &chart{
		Name:  b.uniqueName("timeline", groupName(g)),
		Kind:  kindTimeline,
		Title: "Requests/s and p99 latency over time" + groupSuffix(g),
		Caption: "Each line is one repetition, one point per second. A dip in requests/s with a spike in p99 is a stall; " +
			"gaps in the latency line are seconds without a single answer.",
		Panels:      []*plot.Plot{top, bottom},
		PanelHeight: 2.5 * vg.Inch,
		Legend:      legend,
	}
}

// sweepAxis returns the first of names that the run sweeps over at least
// two numeric values.
func (b *chartBuilder) sweepAxis(names []string) string {
	for _, a := range b.r.groupAxes() {
		if !slices.Contains(names, strings.ToLower(a)) {
			continue
		}
		vals := b.r.axisValues(a)
		if len(vals) >= 2 && !slices.ContainsFunc(vals, func(v string) bool { return !isNumber(v) }) {
			return a
		}
	}
	return ""
}

// sweeps draws requests/s against concurrency and latency against offered
// load when the config sweeps those axes.
func (b *chartBuilder) sweeps() []*chart {
	var out []*chart
	if a := b.sweepAxis(concurrencyAxes); a != "" {
		for _, g := range b.sweepGroups(a) {
			out = append(out, b.sweepChart(a, g, false))
		}
	}
	if a := b.sweepAxis(rateAxes); a != "" {
		for _, g := range b.sweepGroups(a) {
			out = append(out, b.sweepChart(a, g, true))
		}
	}
	return slices.DeleteFunc(out, func(c *chart) bool { return c == nil })
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
		p.Y.Scale = plot.LogScale{}
	} else {
		p = newPlot(axis, "requests/s (median of reps)")
		p.Y.Tick.Marker = countTicks{}
		p.Y.Min = 0
	}
	byServer := map[string][]*cell{}
	var servers []string
	for _, c := range g.Cells {
		if _, ok := byServer[c.server()]; !ok {
			servers = append(servers, c.server())
		}
		byServer[c.server()] = append(byServer[c.server()], c)
	}
	slices.Sort(servers)
	var legend []legendItem
	minX, maxX := math.Inf(1), 0.0
	minY, maxY := math.Inf(1), 0.0
	for _, s := range servers {
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
				continue
			}
			if !sum.RPS.Known() {
				continue
			}
			med = append(med, plotter.XY{X: x, Y: sum.RPS.Median})
			errs = append(errs, struct{ Low, High float64 }{sum.RPS.Median - sum.RPS.Min, sum.RPS.Max - sum.RPS.Median})
		}
		if len(med) == 0 {
			continue
		}
		style := serverLineStyle(b.pal, s)
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
	switch {
	case latency:
		// The hockey stick is read on a linear load axis: the knee is where
		// equal steps of load stop costing equal latency.
		p.X.Min = 0
		p.X.Tick.Marker = countTicks{}
	case maxX/minX >= 8 && minX > 0:
		// Concurrency is swept in factors (1, 10, 100, 1000).
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
		padLogRange(&p.X, minX, maxX)
	}
	if latency {
		padLogRange(&p.Y, minY, maxY)
		p.Y.Tick.Marker = logTicks{}
		legend = append(legend,
			legendItem{Label: "p99", Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.6)}}}},
			legendItem{Label: "p50", Thumbs: []plot.Thumbnailer{lineThumb{draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}}},
		)
		return &chart{
			Name:    b.uniqueName("latency-vs", axis, groupName(g)),
			Kind:    kindOfferedLoad,
			Title:   "Latency vs offered load" + groupSuffix(g),
			Caption: "p99 (solid) and p50 (dashed) at each offered rate. Where the line turns up sharply the server has reached its capacity.",
			Panels:  []*plot.Plot{p},
			Legend:  legend,
		}
	}
	return &chart{
		Name:    b.uniqueName("rps-vs", axis, groupName(g)),
		Kind:    kindConcurrency,
		Title:   "Requests/s vs " + axis + groupSuffix(g),
		Caption: "Median over repetitions with min–max bars. A curve that flattens early means the server, not the load, is the limit.",
		Panels:  []*plot.Plot{p},
		Legend:  legend,
	}
}
