package report

import (
	"math"
	"slices"

	"gonum.org/v1/plot"
)

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

// title heads a chart of this layout showing what, e.g. "Requests/s by
// keep_alive (connections=100)".
func (l barLayout) title(what string) string {
	if l.Axis != "" {
		what += " by " + l.Axis
	}
	return what + groupSuffix(l.Group)
}

// panel places one bar per server in each category, has fill give each bar
// its cell's values, and names the categories (or, without an axis, the
// servers) along x.
func (l barLayout) panel(yLabel string, fill func(c *cell, bar *bar)) *plot.Plot {
	servers := serversOf(l.Group.Cells)
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
			bb := newBar(float64(i)+(float64(j)-(n-1)/2)*slot, slot*0.88)
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
	return barPanel(xLabel, yLabel, out, ticks)
}

func (b *chartBuilder) throughputBars(l barLayout) *chart {
	p := l.panel("requests/s (median of reps)", func(c *cell, bb *bar) {
		bb.showRPS(b.byCell[c], b.pal.colour(c.server()))
	})
	p.Y.Tick.Marker = countTicks{}
	ch := &chart{
		Name:    b.names.unique("rps", l.Axis, groupName(l.Group)),
		Kind:    kindThroughput,
		Title:   l.title("Requests/s"),
		Caption: "Bars are the median over the repetitions that count (successful, on a quiet machine); whiskers span the lowest to the highest of them.",
		Panels:  []*plot.Plot{p},
		Legend:  b.swatchLegend(l.Group.Cells),
	}
	b.markSaturated(ch, l.Group.Cells)
	return ch
}

// markSaturated explains the hatching of bars whose requests/s the load
// generator set, when the chart has any.
func (b *chartBuilder) markSaturated(ch *chart, cells []*cell) {
	if !slices.ContainsFunc(cells, func(c *cell) bool { return b.byCell[c].Saturated }) {
		return
	}
	ch.Legend = append(ch.Legend, saturatedLegend)
	ch.Caption += " " + saturatedBarsCaption
}

var saturatedLegend = legendItem{Label: flagSaturated, Thumbs: []plot.Thumbnailer{hatchSwatch{}}}

const saturatedBarsCaption = "A hatched bar is a cell in which the load generator was saturated: " +
	"its height is what the client could send, not what the server could answer, so do not compare it with the others."

func (b *chartBuilder) cpuBars(l barLayout) *chart {
	var any bool
	for _, c := range l.Group.Cells {
		s := b.byCell[c]
		any = any || s.CPUUser.Known() || s.CPUSys.Known()
	}
	if !any {
		return nil
	}
	p := l.panel("CPU µs per request", func(c *cell, bb *bar) {
		s := b.byCell[c]
		if !s.CPUUser.Known() && !s.CPUSys.Known() {
			bb.Label = "n/a"
			return
		}
		user, sys := zeroIfNaN(s.CPUUser.Center), zeroIfNaN(s.CPUSys.Center)
		col := b.pal.colour(c.server())
		bb.Segments = []barSegment{{user, col}, {sys, light(col)}}
		bb.Label = fmtSig(user+sys, 3)
	})
	legend := append(b.swatchLegend(l.Group.Cells),
		legendItem{Label: "user (dark)", Thumbs: []plot.Thumbnailer{swatch{greyRGBA(0x66)}}},
		legendItem{Label: "system (light)", Thumbs: []plot.Thumbnailer{swatch{light(greyRGBA(0x66))}}},
	)
	return &chart{
		Name:  b.names.unique("cpu", l.Axis, groupName(l.Group)),
		Kind:  kindCPU,
		Title: l.title("Server CPU µs per request"),
		Caption: "User CPU (dark) with system CPU (light) stacked on it, medians over repetitions. " +
			"1,000,000 ÷ this number is the requests/s one fully busy core could serve: the per-request budget of thread post #8. " +
			"It holds whether or not the load generator kept up.",
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
