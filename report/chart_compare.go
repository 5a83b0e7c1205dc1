package report

import (
	"slices"

	"gonum.org/v1/plot"
)

// charts draws, for each group of cells that differ only in the server,
// A's and B's requests/s side by side: A in the server's light tint, B in
// its full colour.
func (cmp comparison) charts(pal palette) []*chart {
	groupAxes := cmp.axes[1:]
	names := chartNames{}
	type grp struct {
		fixed []keyValue
		pairs []cellPair
	}
	var groups []grp
	for _, p := range cmp.pairs {
		var fixed []keyValue
		for _, x := range groupAxes {
			fixed = append(fixed, keyValue{x, p.Axes[x]})
		}
		i := slices.IndexFunc(groups, func(g grp) bool { return slices.Equal(g.fixed, fixed) })
		if i < 0 {
			i = len(groups)
			groups = append(groups, grp{fixed: fixed})
		}
		groups[i].pairs = append(groups[i].pairs, p)
	}
	var out []*chart
	for _, g := range groups {
		label := group{Fixed: g.fixed}
		var bs []bar
		var ticks []plot.Tick
		saturated := false
		for i, pr := range g.pairs {
			server := pr.Axes[serverAxis]
			col := pal.colour(server)
			for j, s := range []*summary{pr.A, pr.B} {
				bb := newBar(float64(i)+(float64(j)-0.5)*0.4, 0.36)
				switch {
				case s == nil:
					bb.Label = "absent"
				case j == 0:
					bb.showRPS(*s, light(col))
				default:
					bb.showRPS(*s, col)
				}
				saturated = saturated || bb.Hatched
				bs = append(bs, bb)
			}
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: server})
		}
		p := barPanel(serverAxis, "requests/s (median of reps)", bs, ticks)
		p.Y.Tick.Marker = countTicks{}
		ch := &chart{
			Name:    names.unique("compare-rps", groupName(label)),
			Title:   "Requests/s, A against B" + groupSuffix(label),
			Caption: "Left bar of each pair: run A (light); right bar: run B (full colour). Whiskers span the repetitions.",
			Kind:    kindThroughput,
			Panels:  []*plot.Plot{p},
			Legend: []legendItem{
				{Label: "A: " + cmp.a.run.ID, Thumbs: []plot.Thumbnailer{swatch{light(greyRGBA(0x66))}}},
				{Label: "B: " + cmp.b.run.ID, Thumbs: []plot.Thumbnailer{swatch{greyRGBA(0x66)}}},
			},
		}
		if saturated {
			ch.Legend = append(ch.Legend, saturatedLegend)
			ch.Caption += " " + saturatedBarsCaption
		}
		out = append(out, ch)
	}
	return out
}
