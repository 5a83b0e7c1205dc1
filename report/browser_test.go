package report

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// chromiumPath finds a headless-capable Chromium; CI installs Debian's
// chromium package.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium runs one headless Chromium with a fresh profile and no
// network, bounded by ctx, and returns its standard output.
func runChromium(ctx context.Context, t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	// Chromium logs dbus and GPU complaints on stderr in a container;
	// they matter only when it fails.
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish in time: %v\n%s", ctx.Err(), stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// limitedBuffer keeps the first 8 KB of a stream, enough for an error.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 8192 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// TestPageRendersInBrowser opens the report page in headless Chromium:
// the page's own load handler records how many charts decoded and how
// many tables exist, and a screenshot must show the servers' colours in
// the chart area, not just in the legend at the top.
func TestPageRendersInBrowser(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Fatal("chromium not found: install Debian's chromium package (.ci/run does)")
	}
	p, err := Build(filepath.Join("testdata", "run-a"), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.ToSlash(p.HTML)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	dom := runChromium(ctx, t, bin, "--virtual-time-budget=5000", "--dump-dom", url)
	m := regexp.MustCompile(`<body data-charts="(\d+)/(\d+)" data-tables="(\d+)"`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's load handler did not run; body tag: %.300s", regexp.MustCompile(`<body[^>]*>`).Find(dom))
	}
	loaded, total, tables := atoi(m[1]), atoi(m[2]), atoi(m[3])
	wantCharts := len(p.Plots) / 2
	if total != wantCharts || loaded != total {
		t.Errorf("%d of %d charts decoded in the browser, want all %d", loaded, total, wantCharts)
	}
	// Results, one ranking per keep_alive value, the kernel settings.
	if tables != 4 {
		t.Errorf("%d tables rendered, want 4", tables)
	}

	shot := filepath.Join(t.TempDir(), "page.png")
	runChromium(ctx, t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	// The swatches under the title sit above y=400; the tables and the
	// first charts fill the rest of the first screen.
	pal := newPalette([]string{"epoll", "nethttp", "poll"})
	for _, s := range pal.names {
		if n := countColour(img, pal.colour(s), 400); n < 500 {
			t.Errorf("screenshot shows %d pixels of %s's colour below the header, want a rendered chart", n, s)
		}
	}
	if out := os.Getenv("SOCKBENCH_REPORT_SCREENSHOT"); out != "" {
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(out, data, 0o644)
		}
	}
}

func atoi(b []byte) int {
	n, _ := strconv.Atoi(string(b))
	return n
}
