package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// checkPNG decodes a chart and checks it has the size the page expects.
func checkPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() < 10_000 {
		t.Errorf("%s: %d bytes, too small to hold a chart", filepath.Base(path), st.Size())
	}
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", filepath.Base(path), err)
	}
	wantW := int(math.Round(chartWidth.Points() * pngDPI / 72))
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() < wantW/3 {
		t.Errorf("%s is %dx%d, want %d wide and at least a third as tall", filepath.Base(path), b.Dx(), b.Dy(), wantW)
	}
	return img
}

// checkSVG parses a chart as XML to the end and checks its root.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2_000 {
		t.Errorf("%s: %d bytes, too small to hold a chart", filepath.Base(path), len(data))
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed SVG: %v", filepath.Base(path), err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", filepath.Base(path), root)
	}
}

// countColour counts pixels within a small distance of c (anti-aliasing
// blends edges, but the inside of a bar or a thick line keeps its colour).
func countColour(img image.Image, c color.RGBA, minY int) int {
	n := 0
	b := img.Bounds()
	for y := max(b.Min.Y, minY); y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if absDiff(r>>8, c.R) <= 6 && absDiff(g>>8, c.G) <= 6 && absDiff(bl>>8, c.B) <= 6 {
				n++
			}
		}
	}
	return n
}

func absDiff(a uint32, b uint8) uint32 {
	if a > uint32(b) {
		return a - uint32(b)
	}
	return uint32(b) - a
}

func TestChartsForEveryQuestion(t *testing.T) {
	dir := t.TempDir()
	p, err := buildRun(synthRun("run-a", []string{"server", "keep_alive", "connections"}, twoAxisCells()), FormatHTML, outFolder{path: dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range p.Plots {
		names = append(names, filepath.Base(f))
		if strings.HasSuffix(f, ".png") {
			checkPNG(t, f)
		} else {
			checkSVG(t, f)
		}
	}
	want := []string{
		"rps-keep-alive.png", "rps-keep-alive.svg",
		"latency-keep-alive-false.png", "latency-keep-alive-true.png",
		"timeline-keep-alive-false.png", "timeline-keep-alive-true.svg",
		"cpu-keep-alive.png", "cpu-keep-alive.svg",
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no %s among %v", w, names)
		}
	}
	if len(p.Plots) != 12 {
		t.Errorf("%d plot files, want 12 (6 charts × PNG and SVG)", len(p.Plots))
	}
}

// TestServerKeepsItsColour: a server's colour comes from its place among
// all the report's servers, so a chart showing only "poll" still draws it
// in poll's colour, not in the first colour of the palette.
func TestServerKeepsItsColour(t *testing.T) {
	ax := func(server, body string) map[string]string { return map[string]string{"server": server, "body": body} }
	r := synthRun("colours", []string{"server", "body"}, []synthCell{
		{Axes: ax("epoll", "small"), RPS: []float64{1000, 1010}, P50US: 100, P99US: 300, MaxUS: 900},
		{Axes: ax("poll", "small"), RPS: []float64{900, 910}, P50US: 100, P99US: 300, MaxUS: 900},
		{Axes: ax("poll", "large"), RPS: []float64{800, 810}, P50US: 100, P99US: 300, MaxUS: 900},
	})
	dir := t.TempDir()
	if _, err := buildRun(r, FormatHTML, outFolder{path: dir}); err != nil {
		t.Fatal(err)
	}
	pal := newPalette(r.servers())
	epoll, poll := pal.colour("epoll"), pal.colour("poll")
	if epoll == poll {
		t.Fatal("two servers share a colour")
	}
	img := checkPNG(t, filepath.Join(dir, "plots", "latency-body-large.png"))
	if n := countColour(img, poll, 0); n < 100 {
		t.Errorf("the poll-only chart has %d pixels of poll's colour, want its line drawn in it", n)
	}
	if n := countColour(img, epoll, 0); n > 0 {
		t.Errorf("the poll-only chart has %d pixels of epoll's colour", n)
	}
	both := checkPNG(t, filepath.Join(dir, "plots", "latency-body-small.png"))
	if countColour(both, poll, 0) < 100 || countColour(both, epoll, 0) < 100 {
		t.Error("the two-server chart should draw both servers in their colours")
	}
}

// TestSweepCharts: a config sweeping connections gets requests/s against
// connections, one sweeping the offered rate gets the hockey stick.
func TestSweepCharts(t *testing.T) {
	var conns, rates []synthCell
	for i, s := range []string{"epoll", "poll"} {
		capacity := 100000 * (1 - 0.1*float64(i))
		for _, c := range []float64{1, 10, 100, 1000} {
			rps := capacity * c / (c + 20)
			conns = append(conns, synthCell{Axes: map[string]string{"server": s, "connections": strconv.Itoa(int(c))},
				RPS: []float64{rps * 0.98, rps * 1.02}, P50US: 1e6 * c / rps, P99US: 2.5e6 * c / rps, MaxUS: 1e7 * c / rps})
		}
		for _, rate := range []float64{20000, 50000, 80000} {
			p50 := 200 / (1 - math.Min(rate/capacity, 0.97))
			rates = append(rates, synthCell{Axes: map[string]string{"server": s, "rate": strconv.Itoa(int(rate))},
				RPS: []float64{math.Min(rate, capacity)}, P50US: p50, P99US: p50 * 4, MaxUS: p50 * 20})
		}
	}
	for _, tt := range []struct {
		axis  string
		cells []synthCell
		want  string
	}{
		{"connections", conns, "rps-vs-connections.png"},
		{"rate", rates, "latency-vs-rate.png"},
	} {
		dir := t.TempDir()
		if _, err := buildRun(synthRun("sweep", []string{"server", tt.axis}, tt.cells), FormatHTML, outFolder{path: dir}); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, filepath.Join(dir, "plots", tt.want))
		checkSVG(t, filepath.Join(dir, "plots", strings.TrimSuffix(tt.want, ".png")+".svg"))
	}
}

// TestDegenerateDataDoesNotPanic: single requests, zero latencies and a
// cell without any data must still give a report, not a crash.
func TestDegenerateDataDoesNotPanic(t *testing.T) {
	r := synthRun("odd", []string{"server"}, []synthCell{
		{Axes: map[string]string{"server": "epoll"}, RPS: []float64{1}, P50US: 1, P99US: 1, MaxUS: 1},
		{Axes: map[string]string{"server": "poll"}, RPS: []float64{math.NaN()}, FailureReason: "server did not start"},
	})
	for _, c := range r.Cells {
		for _, rp := range c.Reps {
			rp.Series = nil
		}
	}
	if _, err := buildRun(r, FormatAll, outFolder{path: t.TempDir()}); err != nil {
		t.Fatalf("degenerate run: %v", err)
	}
}

// TestBarLabelsNeverOverlap: however many bars a chart has, no value
// label runs into another label, into another bar or off the panel (the
// issue's "18.5k18.4k20.0k9.64k…"); a few bars keep level labels, a dozen
// keep every label, turned upright.
func TestBarLabelsNeverOverlap(t *testing.T) {
	for _, n := range []int{4, 6, 12, 24, 60} {
		per := n / 2 // two categories, like keep_alive
		slot := 0.8 / float64(per)
		var bs []bar
		for i := range n {
			cat, j := i/per, i%per
			b := newBar(float64(cat)+(float64(j)-float64(per-1)/2)*slot, slot*0.88)
			v := 20000 - 900*float64(j%7) - 12000*float64(cat)
			b.Segments = []barSegment{{v, seriesColours[j%len(seriesColours)]}}
			b.Low, b.High = v*0.98, v*1.02
			b.Label = shortCount(v)
			bs = append(bs, b)
		}
		p := barPanel("keep_alive", "requests/s", bs, []plot.Tick{{Value: 0, Label: "false"}, {Value: 1, Label: "true"}})
		img := vgimg.New(chartWidth*0.75, panelHeight)
		c := draw.New(img)
		p.Draw(c)
		dc := p.DataCanvas(c)
		trX, trY := p.Transforms(&dc)
		labels := newBars(bs).placeLabels(dc, trX, trY)
		switch {
		case n <= 6 && (len(labels) != n || labels[0].Style.Rotation != 0):
			t.Errorf("%d bars: %d labels, rotation %v; want every label, level", n, len(labels), labels[0].Style.Rotation)
		case n == 12 && len(labels) != n:
			t.Errorf("12 bars: %d labels, want all 12", len(labels))
		}
		for i, l := range labels {
			if l.Box.Max.Y > c.Max.Y || l.Box.Min.X < c.Min.X || l.Box.Max.X > c.Max.X {
				t.Errorf("%d bars: label %q %v leaves the image %v", n, l.Text, l.Box, c.Rectangle)
			}
			for _, o := range labels[i+1:] {
				if overlap(l.Box, o.Box) {
					t.Errorf("%d bars: labels %q and %q overlap", n, l.Text, o.Text)
				}
			}
			for _, b := range bs {
				r := vg.Rectangle{Min: vg.Point{X: trX(b.X - b.Width/2), Y: trY(0)}, Max: vg.Point{X: trX(b.X + b.Width/2), Y: trY(b.top())}}
				inside := l.Box.Min.X >= r.Min.X && l.Box.Max.X <= r.Max.X
				if overlap(l.Box, r) && !inside {
					t.Errorf("%d bars: label %q runs into a neighbouring bar", n, l.Text)
				}
			}
		}
	}
}

func overlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// TestCaptionsSayWhatTheClientSet: where the load generator was
// saturated, the charts mark those cells and their captions say the
// number is the client's; no caption reads a flat line as the server's
// limit without that.
func TestCaptionsSayWhatTheClientSet(t *testing.T) {
	var cells []synthCell
	for i, s := range []string{"epoll", "poll"} {
		for _, c := range []float64{10, 100, 1000} {
			rps := 90000 * c / (c + 20)
			cells = append(cells, synthCell{Axes: map[string]string{"server": s, "connections": strconv.Itoa(int(c))},
				RPS: []float64{rps, rps * 1.01}, P50US: 100, P99US: 300, MaxUS: 900, CPUUser: 3, CPUSys: 4,
				Saturated: i == 0 && c >= 100})
		}
	}
	r := synthRun("sat", []string{"server", "connections"}, cells)
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	charts := newChartBuilder(r, a.sums, newPalette(r.servers())).all()
	var seen []string
	for _, ch := range charts {
		if strings.Contains(ch.Caption, "not the load, is the limit") || strings.Contains(ch.Caption, "the server has reached its capacity") {
			t.Errorf("%s: caption reads a client-bound line as the server's limit: %q", ch.Name, ch.Caption)
		}
		switch ch.Kind {
		case kindConcurrency, kindThroughput:
			seen = append(seen, ch.Name)
			if !strings.Contains(ch.Caption, "load generator was saturated") {
				t.Errorf("%s: caption does not say which points the client set: %q", ch.Name, ch.Caption)
			}
			if !slices.ContainsFunc(ch.Legend, func(l legendItem) bool { return l.Label == flagSaturated }) {
				t.Errorf("%s: no legend entry for the saturated cells", ch.Name)
			}
		}
	}
	if len(seen) != 2 {
		t.Errorf("charts %v, want the requests/s bars and the sweep", seen)
	}
}
