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
	p, err := buildRun(synthRun("run-a", []string{"server", "keep_alive", "connections"}, twoAxisCells()), FormatHTML, dir)
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
	if _, err := buildRun(r, FormatHTML, dir); err != nil {
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
		if _, err := buildRun(synthRun("sweep", []string{"server", tt.axis}, tt.cells), FormatHTML, dir); err != nil {
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
	if _, err := buildRun(r, FormatAll, t.TempDir()); err != nil {
		t.Fatalf("degenerate run: %v", err)
	}
}
