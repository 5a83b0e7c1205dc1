package report

import (
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// chartBuilder holds what every chart of one report shares, above all the
// palette, so a server keeps its colour from the first chart to the last.
type chartBuilder struct {
	r      *run
	pal    palette
	byCell map[*cell]summary
	names  chartNames
	// line names a cell's line where a chart draws one per cell: its
	// server, unless the cells differ by something else too.
	line func(*cell) string
}

func newChartBuilder(r *run, sums []summary, pal palette) *chartBuilder {
	b := &chartBuilder{r: r, pal: pal, byCell: map[*cell]summary{}, names: chartNames{}, line: (*cell).server}
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
	if ch := b.controlChart(); ch != nil {
		out = append(out, ch)
	}
	return out
}

// swatchLegend names each server of cells once, by name, with a square of
// its colour.
func (b *chartBuilder) swatchLegend(cells []*cell) []legendItem {
	var items []legendItem
	for _, s := range serversOf(cells) {
		items = append(items, legendItem{Label: s, Thumbs: []plot.Thumbnailer{swatch{b.pal.colour(s)}}})
	}
	return items
}

// chartNames hands out the charts' file names, each unique within one
// report.
type chartNames map[string]int

// unique turns a description into a file name no other chart of the
// report has.
func (n chartNames) unique(parts ...string) string {
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
	n[name]++
	if k := n[name]; k > 1 {
		name += "-" + strconv.Itoa(k)
	}
	return name
}

// groupName is the group's part of a file name: empty for the one group of
// a run in which only the server varies.
func groupName(g group) string {
	if len(g.Fixed) == 0 {
		return ""
	}
	return g.Label()
}

// groupSuffix is the group's part of a chart title, in parentheses; empty
// like groupName.
func groupSuffix(g group) string {
	if len(g.Fixed) == 0 {
		return ""
	}
	return " (" + g.Label() + ")"
}
