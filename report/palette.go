package report

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// seriesColours is Tableau's ten-colour palette: distinct for the common
// kinds of colour blindness and still distinct when printed in grey.
var seriesColours = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, // blue
	{0xf2, 0x8e, 0x2b, 0xff}, // orange
	{0xe1, 0x57, 0x59, 0xff}, // red
	{0x76, 0xb7, 0xb2, 0xff}, // teal
	{0x59, 0xa1, 0x4f, 0xff}, // green
	{0xed, 0xc9, 0x48, 0xff}, // yellow
	{0xb0, 0x7a, 0xa1, 0xff}, // purple
	{0xff, 0x9d, 0xa7, 0xff}, // pink
	{0x9c, 0x75, 0x5f, 0xff}, // brown
	{0xba, 0xb0, 0xac, 0xff}, // grey
}

// lineDashes tell servers apart once the colours repeat (more than ten).
var lineDashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}}

// palette gives each server one colour for the whole report, assigned by
// sorted name, so "epoll" is the same colour in every chart and in both
// runs of a comparison.
type palette struct {
	names []string
}

func newPalette(servers ...[]string) palette {
	var all []string
	for _, ss := range servers {
		for _, s := range ss {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	slices.Sort(all)
	return palette{names: all}
}

func (p palette) index(server string) int {
	i, ok := slices.BinarySearch(p.names, server)
	if !ok {
		// A server the palette was not built with still gets a stable,
		// if shared, colour rather than a failure.
		i = len(p.names) + len(server)
	}
	return i
}

func (p palette) colour(server string) color.RGBA {
	return seriesColours[p.index(server)%len(seriesColours)]
}

func (p palette) dashes(server string) []vg.Length {
	return lineDashes[(p.index(server)/len(seriesColours))%len(lineDashes)]
}

// lineStyle is the server's line in every line chart: its colour, and its
// dashes once the colours repeat.
func (p palette) lineStyle(server string) draw.LineStyle {
	return draw.LineStyle{Color: p.colour(server), Width: vg.Points(1.6), Dashes: p.dashes(server)}
}

// light is the colour mixed with white, for the second part of a stacked
// bar (system CPU on top of user CPU).
func light(c color.RGBA) color.RGBA {
	mix := func(v uint8) uint8 { return uint8((int(v) + 2*255) / 3) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xff}
}

// cssColour is the colour for the page's legend swatches.
func cssColour(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func greyRGBA(y uint8) color.RGBA { return color.RGBA{y, y, y, 0xff} }
