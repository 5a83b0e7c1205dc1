package report

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBuildControlFixture builds the report of run-c, a run with every
// check of issue #10, and holds its tables to golden files: interference
// per repetition, the drift control, the adaptive columns, and no time
// series for its 700 ms windows.
func TestBuildControlFixture(t *testing.T) {
	p, err := Build(filepath.Join("testdata", "run-c"), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "run-c.md")
	names := map[string]string{}
	for _, f := range p.CSV {
		names[filepath.Base(f)] = f
	}
	for _, n := range []string{"cells.csv", "ranking.csv", "interference.csv", "control.csv"} {
		if names[n] == "" {
			t.Fatalf("no %s among %v", n, p.CSV)
		}
		checkGolden(t, names[n], "run-c-"+n)
	}
	var control bool
	for _, f := range p.Plots {
		if strings.Contains(filepath.Base(f), "timeline") {
			t.Errorf("a time series of 700 ms windows: %s", f)
		}
		control = control || strings.HasPrefix(filepath.Base(f), "control-epoll")
		if strings.HasSuffix(f, ".png") {
			checkPNG(t, f)
		}
	}
	if !control {
		t.Errorf("no chart of the drift control among %v", p.Plots)
	}
	page, _ := os.ReadFile(p.HTML)
	for _, want := range []string{
		"<h2>Drift control</h2>", "<h2>Interference</h2>", "Kendall&#39;s rank test for a trend",
		"No time series: the measured windows (700ms) are shorter than 5s",
		"busy 8.8% (0.2%) ×2", "machine busy: 2/8 reps left out", "no (n=8)",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestBusyRepetitionsLeftOut: a busy repetition is not in its cell's
// sample — the median, the interval, the test against #1 are of the quiet
// ones — and a cell with no quiet repetition is not ranked.
func TestBusyRepetitionsLeftOut(t *testing.T) {
	r, err := loadRun(filepath.Join("testdata", "run-c"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	var rk ranking
	for _, x := range a.rankings {
		if x.Group.Label() == "keep_alive=false" {
			rk = x
		}
	}
	byServer := map[string]rankEntry{}
	for _, e := range rk.Entries {
		byServer[e.Sum.Cell.server()] = e
	}
	// poll/false: 8 repetitions, 2 and 5 busy at 17,000 and 16,500.
	poll := byServer["poll"]
	if poll.Rank != 2 || poll.Sum.RPS.N != 6 || poll.Sum.RPS.Center != 25200 || poll.Sum.RPS.Min != 24700 || poll.Sum.Busy != 2 {
		t.Errorf("poll/false: rank %d, req/s %+v, %d busy; want rank 2 on the median 25,200 of its 6 quiet repetitions (24,700 the lowest)", poll.Rank, poll.Sum.RPS, poll.Sum.Busy)
	}
	if got := rk.versusFirst(poll, measureRPS).Text; !strings.Contains(got, "n=6+6") {
		t.Errorf("poll against #1: %q, want the test over its 6 quiet repetitions", got)
	}
	if f := strings.Join(poll.Sum.flags(), ", "); f != "machine busy: 2/8 reps left out" {
		t.Errorf("poll/false flags %q", f)
	}
	// nethttp/false: every repetition busy.
	if e := byServer["nethttp"]; e.Rank != 0 || e.Out != "machine busy: 8/8 reps left out" {
		t.Errorf("nethttp/false: rank %d (%q), want not ranked for its busy machine", e.Rank, e.Out)
	}
	if !strings.Contains(rk.note(), "nethttp (machine busy: 8/8 reps left out)") {
		t.Errorf("the note does not say why nethttp is not ranked: %s", rk.note())
	}
}

// TestBusyRepetitionsDoNotReorderARanking: b's busy repetitions are
// faster than a, its quiet ones slower. Counted, they would rank b first;
// left out, b is second, tested on its three quiet repetitions.
func TestBusyRepetitionsDoNotReorderARanking(t *testing.T) {
	ax := func(s string) map[string]string { return map[string]string{"server": s} }
	r := synthRunWith("busy", []string{"server"}, []synthCell{
		{Axes: ax("a"), RPS: []float64{1000, 1010, 990, 1005, 995, 1002}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5},
		{Axes: ax("b"), RPS: []float64{900, 1200, 905, 1210, 895, 1190}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5, Busy: []int{2, 4, 6}},
		{Axes: ax("c"), RPS: []float64{2000, 2010, 1990, 2005}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5, Busy: []int{1, 2, 3, 4}},
	}, synthOptions{Interference: true})
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range a.rankings[0].Entries {
		order = append(order, e.Sum.Cell.server())
	}
	rk := a.rankings[0]
	if !slices.Equal(order, []string{"a", "b", "c"}) || rk.Entries[1].Rank != 2 || rk.Entries[2].Rank != 0 {
		t.Fatalf("ranking %v (ranks %d, %d, %d), want a, then b on its quiet repetitions, and c, all busy, not ranked", order, rk.Entries[0].Rank, rk.Entries[1].Rank, rk.Entries[2].Rank)
	}
	if got := rk.versusFirst(rk.Entries[1], measureRPS).Text; got != "−10.1% [−10.9%, −9.0%] (p=0.024, n=6+3)" {
		t.Errorf("b against a: %q", got)
	}
}

// driftingControl is run-c's matrix with a control whose requests/s fall
// 1.5% of the first a measurement, with a little noise: a machine slowing
// down by a tenth over the run (11.6% of the median).
func driftingControl() *run {
	cells := controlRunCells()
	ctl := controlCellOf(cells, 6)
	for i := range ctl.RPS {
		ctl.RPS[i] = math.Round(96000 * (1 - 0.015*float64(i)) * (1 + 0.003*math.Sin(float64(7*i))))
	}
	return synthRunWith("drift", []string{"server", "keep_alive", "connections"}, cells,
		synthOptions{Interference: true, Control: &ctl, Every: 6, Repetitions: 4, Window: 700 * time.Millisecond})
}

// TestControlDrift: a control that trends beyond its own noise is warned
// of, with its size and the test that found it; run-c's flat one is not.
func TestControlDrift(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drift")
	writeStored(t, dir, driftingControl())
	for _, tt := range []struct {
		dir    string
		warned bool
		words  string
	}{
		{filepath.Join("testdata", "run-c"), false, "req/s: no trend beyond its own noise (p=0.905, n=8"},
		{dir, true, "req/s −11.6% from its first measurement to its last (Theil–Sen; Kendall's trend test p<0.001, n=8)"},
	} {
		r, err := loadRun(tt.dir)
		if err != nil {
			t.Fatal(err)
		}
		a, err := analyse(r)
		if err != nil {
			t.Fatal(err)
		}
		warned := false
		for _, w := range a.warnings() {
			warned = warned || strings.Contains(w, "drifted during the run")
		}
		if warned != tt.warned {
			t.Errorf("%s: drift warned %v, want %v: %q", tt.dir, warned, tt.warned, a.warnings())
		}
		if note := r.controlNote(); !strings.Contains(note, tt.words) {
			t.Errorf("%s: the control's note lacks %q:\n%s", tt.dir, tt.words, note)
		}
		if !strings.Contains(r.controlNote(), "CPU µs/req: no trend beyond its own noise") {
			t.Errorf("%s: CPU per request did not drift: %s", tt.dir, r.controlNote())
		}
	}
}

// TestFewControlMeasurementsCannotShowDrift: with fewer measurements than
// the trend test needs, the note says so rather than call it flat.
func TestFewControlMeasurementsCannotShowDrift(t *testing.T) {
	cells := controlRunCells()[:2]
	for i := range cells {
		cells[i].RPS = cells[i].RPS[:3]
	}
	ctl := controlCellOf(cells, 6)
	r := synthRunWith("few", []string{"server", "keep_alive", "connections"}, cells, synthOptions{Control: &ctl, Every: 6})
	if note := r.controlNote(); !strings.Contains(note, "req/s: too few counted measurements to test for a trend (n=2, the test needs ≥ 5)") {
		t.Errorf("note %s", note)
	}
	if w := r.driftWarnings(); len(w) != 0 {
		t.Errorf("warned of drift from two measurements: %v", w)
	}
}

// TestCompareRelativeToControl: run-d is run-c on a machine 20% faster —
// every cell and the control — and epoll/false 20% faster on top. As
// measured, every cell changed; relative to the control only epoll/false
// did, by its own 20%.
func TestCompareRelativeToControl(t *testing.T) {
	p, err := Compare(filepath.Join("testdata", "run-c"), filepath.Join("testdata", "run-d"), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "compare-c-d.md")
	if len(p.CSV) != 2 || filepath.Base(p.CSV[1]) != "compare-control.csv" {
		t.Fatalf("csv files %v, want compare.csv and compare-control.csv", p.CSV)
	}
	checkGolden(t, p.CSV[1], "compare-c-d-control.csv")
	rows := csvRows(t, p.CSV[1])
	for _, tt := range []struct{ cell, relative, raw string }{
		{"epoll/false", "significant", "significant"},
		{"poll/false", "no significant difference", "significant"},
		{"nethttp/true", "no significant difference", "significant"},
		{"poll/true", "no significant difference", "significant"},
		{"epoll/true", "client saturated", "client saturated"},
		{"nethttp/false", "no data", "no data"}, // every repetition busy
	} {
		row := rows[tt.cell]
		if got := row["rps_relative_change"]; got != tt.relative {
			t.Errorf("%s req/s relative to the control: %q, want %q", tt.cell, got, tt.relative)
		}
		if got := row["rps_change"]; got != tt.raw {
			t.Errorf("%s req/s as measured: %q, want %q", tt.cell, got, tt.raw)
		}
		if got := row["control_rps_change"]; got != "significant" || !strings.HasPrefix(row["control_rps_change_pct"], "20.0") {
			t.Errorf("%s: the control's own change %q %s%%, want +20%% beside it", tt.cell, got, row["control_rps_change_pct"])
		}
	}
	if got := rows["epoll/false"]["rps_relative_change_pct"]; !strings.HasPrefix(got, "20.0") {
		t.Errorf("epoll/false changed by %s%% relative to the control, want its own +20%%", got)
	}
	for _, cell := range []string{"poll/false", "nethttp/true", "poll/true", "epoll/true"} {
		if got := rows[cell]["cpu_us_per_req_relative_change"]; got != "no significant difference" {
			t.Errorf("%s CPU per request relative to the control: %q", cell, got)
		}
	}
	md, _ := os.ReadFile(p.Markdown)
	if !strings.Contains(string(md), "Reading: relative to the drift control.") || !strings.Contains(string(md), "The control itself changed by: req/s +20.0%") {
		t.Errorf("the comparison does not say which reading it used:\n%s", md)
	}
}

// TestCompareWithoutControlSaysSo: without a control in both runs, the
// comparison says a difference can be the machine's, and why it cannot
// read the runs relative to a control.
func TestCompareWithoutControlSaysSo(t *testing.T) {
	for _, tt := range []struct{ a, b, why string }{
		{"run-a", "run-b", "Neither run has a drift control"},
		{"run-a", "run-c", "Only run B has a drift control"},
	} {
		p, err := Compare(filepath.Join("testdata", tt.a), filepath.Join("testdata", tt.b), Options{OutDir: t.TempDir(), Format: FormatMarkdown})
		if err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(p.Markdown)
		if want := tt.why + ", so a difference between the runs can be the machine's"; !strings.Contains(string(md), want) {
			t.Errorf("%s against %s lacks %q", tt.b, tt.a, want)
		}
		if strings.Contains(string(md), "Relative to the drift control") {
			t.Errorf("%s against %s compared relative to a control", tt.b, tt.a)
		}
	}
}

// relativeTrial is a run of cells measured round after round with a
// control after every round, on a machine of the given speed that also
// drifts by up to ±5% through the run; shift multiplies one cell. Every
// measurement has noise of its own.
func relativeTrial(rng *rand.Rand, cells, reps int, speed float64, shift map[int]float64) *run {
	r := &run{Started: synthStart.Format(time.RFC3339)}
	at := synthStart
	total := float64((cells + 1) * reps)
	step := 0.0
	measure := func(c *cell, base float64) {
		drift := 1 + 0.05*math.Sin(2*math.Pi*step/total)
		v := base * speed * drift * (1 + 0.03*rng.NormFloat64())
		c.Reps = append(c.Reps, &rep{Index: len(c.Reps) + 1, OK: true, Counts: true, Started: at, RPS: v, CPUUserUS: 1e6 / v, CPUSysUS: 0})
		at = at.Add(2 * time.Second)
		step++
	}
	r.Control = &control{Cell: &cell{Axes: map[string]string{serverAxis: "ctl"}}}
	for i := range cells {
		r.Cells = append(r.Cells, &cell{Axes: map[string]string{serverAxis: string(rune('a' + i))}})
	}
	measure(r.Control.Cell, 50000)
	for range reps {
		for i, c := range r.Cells {
			f := shift[i]
			if f == 0 {
				f = 1
			}
			measure(c, 20000*float64(i+1)*f)
		}
		measure(r.Control.Cell, 50000)
	}
	return r
}

// TestRelativeToControlTrials: over many seeded trials of a machine 20%
// faster in B (and drifting within each run), the comparison relative to
// the control calls a cell that did not change significant no more often
// than α allows, and finds a cell that got 20% faster on its own.
func TestRelativeToControlTrials(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 4))
	alpha := thresholds.CompareAlpha
	var falsePos, rawFalse, found int
	for range trials {
		a := relativeTrial(rng, 2, 5, 1, nil)
		b := relativeTrial(rng, 2, 5, 1.2, map[int]float64{1: 1.2})
		same := compareEstimates(estimateOf(relativeSample(a, a.Cells[0], measureRPS)), estimateOf(relativeSample(b, b.Cells[0], measureRPS)))
		if same.Verdict == verdictDiffers {
			falsePos++
		}
		if compareEstimates(estimateOf(measureRPS.sample(a.Cells[0].Reps)), estimateOf(measureRPS.sample(b.Cells[0].Reps))).Verdict == verdictDiffers {
			rawFalse++
		}
		real := compareEstimates(estimateOf(relativeSample(a, a.Cells[1], measureRPS)), estimateOf(relativeSample(b, b.Cells[1], measureRPS)))
		if real.Verdict == verdictDiffers && real.Change > 0 {
			found++
		}
	}
	t.Logf("machine +20%%, %d trials of 5+5: an unchanged cell significant relative to the control in %d (as measured: %d); a real +20%% found in %d",
		trials, falsePos, rawFalse, found)
	if share := float64(falsePos) / trials; share > alpha+binomialMargin(alpha) {
		t.Errorf("%.1f%% of unchanged cells called significant relative to the control, want at most α = %.0f%% plus the margin", 100*share, 100*alpha)
	}
	if share := float64(found) / trials; share < 0.95 {
		t.Errorf("a real +20%% relative to the control found in %.1f%% of trials, want ≥ 95%%", 100*share)
	}
}

// TestAdaptiveColumns: an adaptive run's cells have from min to max
// repetitions, and one never measured past a cell's last is not missing;
// the results table gives each cell's interval and whether it came within
// the target, as package results judged it for the runner's rounds: on
// the measure the cell is ranked by on its own.
func TestAdaptiveColumns(t *testing.T) {
	r, err := loadRun(filepath.Join("testdata", "run-c"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Unfinished) != 0 {
		t.Errorf("repetitions a converged cell never needed are listed as not run: %+v", r.Unfinished)
	}
	reps := map[string]int{}
	for _, c := range r.Cells {
		reps[c.server()+"/"+c.Axes["keep_alive"]] = len(c.Reps)
	}
	if reps["epoll/true"] != 6 || reps["nethttp/true"] != 8 {
		t.Errorf("repetitions read %v, want 6 of epoll/true and all 8 of nethttp/true", reps)
	}
	p, err := Build(filepath.Join("testdata", "run-c"), Options{OutDir: t.TempDir(), Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	rows := csvRows(t, p.CSV[0])
	for _, tt := range []struct{ cell, measure, pct, converged string }{
		{"epoll/true", "server CPU µs/request", "0.46", "yes"}, // the client was saturated
		{"poll/true", "requests/s", "1.53", "yes"},             // ranked by CPU in its group, converged on its own req/s
		{"nethttp/true", "requests/s", "7.96", "no"},
		{"poll/false", "requests/s", "2.78", "yes"}, // its 6 quiet repetitions of 8
		{"nethttp/false", "requests/s", "", "no"},   // none quiet
	} {
		row := rows[tt.cell]
		if row["interval_measure"] != tt.measure || row["interval_pct"] != tt.pct || row["converged"] != tt.converged {
			t.Errorf("%s: interval of %q ±%s%%, converged %q; want %q ±%s%%, %q", tt.cell, row["interval_measure"], row["interval_pct"], row["converged"], tt.measure, tt.pct, tt.converged)
		}
	}
	plain, err := Build(filepath.Join("testdata", "run-a"), Options{OutDir: t.TempDir(), Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range csvRows(t, plain.CSV[0]) {
		if _, ok := row["converged"]; ok {
			t.Error("a run of fixed repetitions has a converged column")
		}
		break
	}
}
