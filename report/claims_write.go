package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"

	"github.com/sockbench/sockbench/internal/inside"
)

// ClaimsReport is the name of the verdicts' Markdown file.
const ClaimsReport = "REPORT.md"

// Claims judges every claim of the claims file on the results in runDir
// (one run folder, or a folder of runs such as make forum's
// results/forum/<stamp>/, each found by its configuration's name) and
// writes REPORT.md with a plot per claim into opts.OutDir (default
// runDir). It needs nothing but the stored results.
func Claims(runDir, claimsPath string, opts Options) (Paths, error) {
	cs, err := readClaims(claimsPath)
	if err != nil {
		return Paths{}, err
	}
	f, err := loadForum(runDir)
	if err != nil {
		return Paths{}, err
	}
	measured := slices.ContainsFunc(cs.List, func(c claim) bool { return f.Runs[c.Experiment] != nil })
	if !measured {
		return Paths{}, fmt.Errorf("%s holds none of the experiments %s names (it holds %s): run them first (make forum)", runDir, claimsPath, strings.Join(f.Order, ", "))
	}
	res, err := cs.evaluate(f)
	if err != nil {
		return Paths{}, err
	}
	out := opts.OutDir
	if out == "" {
		out = runDir
	}
	p := Paths{Dir: out}
	plotDir, err := inside.Dir(out, "plots")
	if err != nil {
		return p, fmt.Errorf("create plot folder: %w", err)
	}
	plots := map[string]string{}
	for _, cr := range res {
		ch := claimChart(cr)
		if ch == nil {
			continue
		}
		png, svg, err := ch.save(plotDir)
		if err != nil {
			return p, err
		}
		p.Plots = append(p.Plots, png, svg)
		plots[cr.Claim.ID] = "plots/" + filepath.Base(png)
		if tl := claimTimeline(cr); tl != nil {
			png, svg, err := tl.save(plotDir)
			if err != nil {
				return p, err
			}
			p.Plots = append(p.Plots, png, svg)
			plots[cr.Claim.ID+timelineSuffix] = "plots/" + filepath.Base(png)
		}
	}
	p.Markdown = filepath.Join(out, ClaimsReport)
	err = writeFile(p.Markdown, func(w io.Writer) error { return writeClaims(w, f, cs, res, plots) })
	return p, err
}

// claimsNote says how every verdict is reached, with benchmath's
// thresholds rather than numbers written down here.
func claimsNote() string {
	return fmt.Sprintf("Every figure is computed from the stored results of the repetitions that count (successful, on a quiet machine). "+
		"A cell's figure is the median of its repetitions with its %.0f%% order-statistics interval (benchstat's), or, with fewer than %d "+
		"repetitions but at least %d, their range, which holds the median with probability 1 − 2^(1−n); \"highest\" is the largest repetition (of as many). "+
		"A ratio of two cells is the ratio of their medians, with the interval of the ratio that inverts the two-sided Mann–Whitney test "+
		"(of every ratio of a repetition of one cell to one of the other, the k-th from each end: Hodges–Lehmann), its p-value beside it. "+
		"A bound is widened by the claim's tolerance. **reproduced**: the whole interval meets the bound; **not reproduced**: the whole "+
		"interval misses it; **inconclusive**: the interval reaches across it, or a cell has too few counted repetitions (more could tell); **flagged**: a cell's numbers "+
		"were flagged (the load generator saturated for a figure it measures, or requests failed), so the claim is not judged on them. "+
		"Where the client's figures of a saturated cell cannot decide a requests/s check, the cell is judged on the requests/s its server's CPU µs per request "+
		"allow on the one CPU it is pinned to (10⁶ ÷ µs: at least what it answered, since it was busy at most the whole window), the figure the runner "+
		"ranks a saturated group by; the check's line says so, and its plot has a panel of its own. "+
		"**No data**: the run, the cell or the metric is missing; **not applicable here**: the claim does not concern the stack, and the "+
		"claims file says why. Where a claim does not hold, the reasons given are those of the claims file whose conditions the run's "+
		"recorded facts meet (kernel settings, the machine, a cell's figure), with the recorded value.",
		100*ciLevel, minRepsForCI(), minRepsToTell())
}

func writeClaims(w io.Writer, f *forum, cs *claims, res []claimResult, plots map[string]string) error {
	var b strings.Builder
	b.WriteString("# The forum thread, claim by claim\n\n")
	fmt.Fprintf(&b, "The claims of `%s` judged on the results in `%s`: %s.\n\n", cs.File, f.Dir, plural(len(f.Runs), "run"))
	if first := f.Runs[f.Order[0]]; first != nil {
		for _, kv := range first.Machine {
			fmt.Fprintf(&b, "- **%s**: %s\n", kv.Key, mdEscape(kv.Value))
		}
		for _, kv := range first.Sysctls {
			fmt.Fprintf(&b, "- **%s**: %s\n", kv.Key, mdEscape(kv.Value))
		}
	}
	var runs []string
	for _, name := range f.Order {
		r := f.Runs[name]
		runs = append(runs, fmt.Sprintf("`%s` (%s)", r.ID, r.Status))
	}
	fmt.Fprintf(&b, "- **runs**: %s\n", strings.Join(runs, ", "))
	if len(f.Ignored) > 0 {
		fmt.Fprintf(&b, "- **left out**: %s, measured again later in the same folder\n", strings.Join(f.Ignored, ", "))
	}
	b.WriteString("\n" + claimsNote() + "\n\n## Verdicts\n\n")
	t := table{Columns: []column{{Title: "claim"}, {Title: "post"}, {Title: "the thread"}, {Title: "Python"}, {Title: "Go"}}}
	for _, cr := range res {
		row := []field{textField(cr.Claim.ID), textField(fmt.Sprintf("#%d", cr.Claim.Post)), textField(cr.Claim.Thread + " (" + cr.Claim.Figure + ")")}
		for _, sr := range cr.Stacks {
			row = append(row, textField(sr.summary()))
		}
		t.Rows = append(t.Rows, row)
	}
	if err := t.writeMarkdown(&b); err != nil {
		return err
	}
	for _, cr := range res {
		c := cr.Claim
		fmt.Fprintf(&b, "\n## %s\n\n", c.ID)
		runText := "not measured"
		if cr.Run != nil {
			runText = "run `" + cr.Run.ID + "`"
		}
		fmt.Fprintf(&b, "Post #%d: %s. **The thread:** %s. Experiment `%s`, %s.\n\n", c.Post, mdEscape(c.Thread), mdEscape(c.Figure), c.Experiment, runText)
		ct := table{Columns: []column{{Title: "stack"}, {Title: "check"}, {Title: "sockbench"}, {Title: "interval"}, {Title: "bound"}, {Title: "verdict"}}}
		for _, sr := range cr.Stacks {
			if len(sr.Checks) == 0 {
				ct.Rows = append(ct.Rows, []field{textField(sr.Stack.Name), textField(missing), textField(missing), textField(missing), textField(missing), textField(sr.Verdict.String())})
				continue
			}
			for _, ch := range sr.Checks {
				ct.Rows = append(ct.Rows, []field{textField(sr.Stack.Name), textField(ch.Check.describe()), textField(ch.figureText()),
					textField(ch.intervalText()), textField(ch.Check.boundText()), textField(ch.Verdict.String())})
			}
		}
		if err := ct.writeMarkdown(&b); err != nil {
			return err
		}
		for _, sr := range cr.Stacks {
			if sr.Verdict == verdictReproduced {
				continue
			}
			fmt.Fprintf(&b, "\n**%s: %s.** %s", sr.Stack.Name, sr.Verdict, mdEscape(sentence(sr.Why)))
			if len(sr.Reasons) > 0 {
				b.WriteString(" As far as the data show: " + mdEscape(strings.Join(sr.Reasons, "; ")) + ".")
			}
			b.WriteString("\n")
		}
		if png, ok := plots[c.ID]; ok {
			fmt.Fprintf(&b, "\n![%s](%s)\n", c.ID, png)
		}
		if png, ok := plots[c.ID+timelineSuffix]; ok {
			fmt.Fprintf(&b, "\n![%s, second by second](%s)\n", c.ID, png)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summary is the verdict table's cell: the verdict and the figure of a
// single check.
func (sr stackResult) summary() string {
	s := sr.Verdict.String()
	if len(sr.Checks) == 1 && !slices.Contains([]claimVerdict{verdictNoClaimData, verdictNotApplicable}, sr.Verdict) {
		s += ": " + sr.Checks[0].figureText()
	}
	return s
}

// intervalText says what the figure's interval is.
func (res checkResult) intervalText() string {
	if res.How == "" {
		return missing
	}
	if !math.IsNaN(res.Confidence) {
		return fmt.Sprintf("%s%% — %s", fmtSig(100*res.Confidence, 3), res.How)
	}
	return res.How
}

func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// Stack colours of the claims' plots.
var (
	pythonColour = color.RGBA{0x30, 0x69, 0x98, 0xff}
	goColour     = color.RGBA{0x00, 0xad, 0xd8, 0xff}
)

// claimPlotDPI draws the claims' PNGs at screen resolution: REPORT.md
// and its plots are committed (issue #13), a plot a claim.
const claimPlotDPI = 96

// timelineSuffix keys a claim's per-second chart among its plots.
const timelineSuffix = "-timeline"

// claimTimeline is the per-second series of the cells a claim compares, a
// line per cell and repetition, where their windows are long enough to
// show a stall (the backlog experiment's are, for post #5's); nil where
// they are not or no check had data.
func claimTimeline(cr claimResult) *chart {
	var cells []*cell
	var labels []string
	for _, sr := range cr.Stacks {
		for _, ch := range sr.Checks {
			for _, c := range ch.Cells {
				if !slices.Contains(cells, c) {
					cells = append(cells, c)
					labels = append(labels, claimCellLabel(cr.Run, c))
				}
			}
		}
	}
	if len(cells) == 0 {
		return nil
	}
	b := newChartBuilder(cr.Run, nil, newPalette(labels))
	b.line = func(c *cell) string { return claimCellLabel(cr.Run, c) }
	ch := b.timeline(group{Cells: cells})
	if ch == nil {
		return nil
	}
	ch.Name, ch.DPI = "claim-"+cr.Claim.ID+timelineSuffix, claimPlotDPI
	ch.Title = fmt.Sprintf("#%d %s, second by second", cr.Claim.Post, cr.Claim.ID)
	return ch
}

// claimCellLabel names a cell in a claim's plots: its axes, the server's
// by value alone.
func claimCellLabel(r *run, c *cell) string {
	return strings.TrimPrefix(cellLabel(r, c), serverAxis+"=")
}

// claimChart draws the cells a claim compares: a panel per metric, a bar
// per cell (its median, whiskers its interval) coloured by stack; nil
// when no check had data.
func claimChart(cr claimResult) *chart {
	type entry struct {
		label  string
		colour color.Color
		c      *cell
		values cellValues
	}
	// A check judged on what saturated servers do on one core gets a
	// panel of its own: those bars are not the client's figures.
	type panel struct {
		name      string
		onOneCore bool
	}
	var panels []panel
	metrics := map[string]claimMetric{}
	bars := map[panel][]entry{}
	for i, sr := range cr.Stacks {
		colour := []color.Color{pythonColour, goColour}[i]
		for _, ch := range sr.Checks {
			p := panel{ch.Check.metric.Name, ch.OnOneCore}
			if !slices.Contains(panels, p) {
				panels = append(panels, p)
				metrics[p.name] = ch.Check.metric
			}
			for _, c := range ch.Cells {
				if !slices.ContainsFunc(bars[p], func(e entry) bool { return e.c == c }) {
					bars[p] = append(bars[p], entry{claimCellLabel(cr.Run, c), colour, c, ch.judgedValues(c)})
				}
			}
		}
	}
	ch := &chart{Name: "claim-" + cr.Claim.ID, DPI: claimPlotDPI, Title: fmt.Sprintf("#%d %s", cr.Claim.Post, cr.Claim.ID),
		Caption: "Bars are medians over the repetitions that count; whiskers span their interval.",
		Legend:  []legendItem{{Label: "Python", Thumbs: []plot.Thumbnailer{swatch{pythonColour}}}, {Label: "Go", Thumbs: []plot.Thumbnailer{swatch{goColour}}}}}
	for _, p := range panels {
		m := metrics[p.name]
		title := m.Title
		if p.onOneCore {
			title += ", saturated: on one core"
		}
		var bs []bar
		var ticks []plot.Tick
		for i, e := range bars[p] {
			est := estimateOf(e.values.Values)
			b := newBar(float64(i), 0.7)
			if !est.Known() {
				b.Label = "no data"
			} else {
				b.Segments = []barSegment{{m.plotted(est.Center), e.colour}}
				b.Low, b.High = m.plotted(est.Min), m.plotted(est.Max)
				if est.hasCI() {
					b.Low, b.High = m.plotted(est.Lo), m.plotted(est.Hi)
				}
				b.Label = m.text(est.Center)
			}
			bs = append(bs, b)
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: e.label})
		}
		if len(bs) > 0 {
			ch.Panels = append(ch.Panels, barPanel("", title, bs, ticks))
		}
	}
	if len(ch.Panels) == 0 {
		return nil
	}
	return ch
}
