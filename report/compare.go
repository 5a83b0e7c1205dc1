package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Compare reads two results folders and writes a cell-by-cell comparison
// of the second (B, usually the newer) against the first (A): requests/s,
// p99 latency and CPU per request side by side, the change, and whether
// the change is larger than the spread between repetitions.
func Compare(runDirA, runDirB string, opts Options) (Paths, error) {
	a, err := loadRun(runDirA)
	if err != nil {
		return Paths{}, err
	}
	b, err := loadRun(runDirB)
	if err != nil {
		return Paths{}, err
	}
	out := opts.OutDir
	if out == "" {
		out = filepath.Join(runDirB, "report", "vs-"+a.ID)
	}
	return compareRuns(a, b, opts.Format, out)
}

// comparison pairs the cells of two runs.
type comparison struct {
	a, b  *analysis
	axes  []string // key axes: the server, then every axis either run varies
	pairs []cellPair
}

// side is one of the two runs under the letter every output calls it by.
type side struct {
	label string
	a     *analysis
}

func (cmp comparison) sides() []side { return []side{{"A", cmp.a}, {"B", cmp.b}} }

type cellPair struct {
	Axes map[string]string
	A, B *summary // nil when the run has no such cell
}

// pairCells matches cells by their values on the axes either run varies.
// Axes both runs hold constant are left out of the key, so two runs that
// differ only in a constant (a longer duration, say) still line up; the
// page lists such differences next to the table.
func pairCells(a, b *analysis) comparison {
	axes := a.run.varyingAxes()
	for _, x := range b.run.varyingAxes() {
		if !slices.Contains(axes, x) {
			axes = append(axes, x)
		}
	}
	key := func(c *cell) string {
		var sb strings.Builder
		for _, x := range axes {
			sb.WriteString(x + "=" + c.Axes[x] + "\x00")
		}
		return sb.String()
	}
	cmp := comparison{a: a, b: b, axes: axes}
	index := map[string]int{}
	add := func(s summary, isA bool) {
		k := key(s.Cell)
		i, ok := index[k]
		if !ok || (isA && cmp.pairs[i].A != nil) || (!isA && cmp.pairs[i].B != nil) {
			i = len(cmp.pairs)
			index[k] = i
			vals := map[string]string{}
			for _, x := range axes {
				vals[x] = s.Cell.Axes[x]
			}
			cmp.pairs = append(cmp.pairs, cellPair{Axes: vals})
		}
		if isA {
			cmp.pairs[i].A = &s
		} else {
			cmp.pairs[i].B = &s
		}
	}
	for _, s := range a.sums {
		add(s, true)
	}
	for _, s := range b.sums {
		add(s, false)
	}
	slices.SortStableFunc(cmp.pairs, func(x, y cellPair) int {
		for _, ax := range axes[1:] {
			if c := compareValues(x.Axes[ax], y.Axes[ax]); c != 0 {
				return c
			}
		}
		return strings.Compare(x.Axes[serverAxis], y.Axes[serverAxis])
	})
	return cmp
}

// changeVerdict says whether B differs from A by more than the spread of
// their repetitions, by the same rule as the ranking.
func changeVerdict(p cellPair) string {
	switch {
	case p.A == nil:
		return "only in B"
	case p.B == nil:
		return "only in A"
	case !p.A.RPS.Known() || !p.B.RPS.Known():
		return verdictNoData
	case p.A.RPS.N < 2 || p.B.RPS.N < 2:
		return verdictOneRep
	case p.A.RPS.Overlaps(p.B.RPS):
		return verdictNoise
	case p.B.RPS.Median > p.A.RPS.Median:
		return "yes, faster"
	}
	return "yes, slower"
}

func (cmp comparison) table() table {
	idA, idB := cmp.a.run.ID, cmp.b.run.ID
	var t table
	for _, x := range cmp.axes {
		t.Columns = append(t.Columns, column{Title: x, CSV: []string{x}})
	}
	t.Columns = append(t.Columns,
		column{Title: "A req/s", CSV: []string{"a_rps_median"}, Numeric: true, Help: "run " + idA},
		column{Title: "A min–max", CSV: []string{"a_rps_min", "a_rps_max"}, Numeric: true},
		column{Title: "B req/s", CSV: []string{"b_rps_median"}, Numeric: true, Help: "run " + idB},
		column{Title: "B min–max", CSV: []string{"b_rps_min", "b_rps_max"}, Numeric: true},
		column{Title: "req/s change", CSV: []string{"rps_change_pct"}, Numeric: true, Help: "B against A, medians"},
		column{Title: "beyond rep spread?", CSV: []string{"beyond_spread"}, Help: "yes when the min–max ranges over repetitions do not overlap"},
		column{Title: "A p99 ms", CSV: []string{"a_p99_us"}, Numeric: true},
		column{Title: "B p99 ms", CSV: []string{"b_p99_us"}, Numeric: true},
		column{Title: "A CPU µs/req", CSV: []string{"a_cpu_us_per_req"}, Numeric: true, Help: "server user + system CPU per request, medians"},
		column{Title: "B CPU µs/req", CSV: []string{"b_cpu_us_per_req"}, Numeric: true},
	)
	side := func(s *summary) (rps, rng, p99, cpu field) {
		if s == nil {
			e := field{Text: missing, CSV: []string{""}}
			return e, field{Text: missing, CSV: []string{"", ""}}, e, e
		}
		p := s.percentileUS(99)
		total := s.CPUUser.Median + s.CPUSys.Median
		return field{Text: fmtCount(s.RPS.Median), CSV: []string{csvFloat(s.RPS.Median, 1)}},
			field{Text: fmtRange(s.RPS), CSV: []string{csvFloat(s.RPS.Min, 1), csvFloat(s.RPS.Max, 1)}},
			field{Text: fmtMS(p), CSV: []string{csvFloat(p, 0)}},
			field{Text: fmtFixed(total, 1), CSV: []string{csvFloat(total, 3)}}
	}
	for _, p := range cmp.pairs {
		var row []field
		for _, x := range cmp.axes {
			row = append(row, textField(p.Axes[x]))
		}
		aRPS, aRng, aP99, aCPU := side(p.A)
		bRPS, bRng, bP99, bCPU := side(p.B)
		change := field{Text: missing, CSV: []string{""}}
		if p.A != nil && p.B != nil {
			change.Text = fmtPercentChange(p.A.RPS.Median, p.B.RPS.Median)
			if p.A.RPS.Median != 0 && !math.IsNaN(p.A.RPS.Median) && !math.IsNaN(p.B.RPS.Median) {
				change.CSV = []string{csvFloat((p.B.RPS.Median-p.A.RPS.Median)/p.A.RPS.Median*100, 2)}
			}
		}
		v := changeVerdict(p)
		row = append(row, aRPS, aRng, bRPS, bRng, change,
			field{Text: v, CSV: []string{v}, Warn: strings.HasPrefix(v, "yes, slower")},
			aP99, bP99, aCPU, bCPU)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// settingDifferences lists machine facts and constant axes that differ
// between the runs: the first thing to rule out before believing a change.
func (cmp comparison) settingDifferences() []string {
	var out []string
	ma, mb := map[string]string{}, map[string]string{}
	var keys []string
	for _, kv := range cmp.a.run.Machine {
		ma[kv.Key] = kv.Value
		keys = append(keys, kv.Key)
	}
	for _, kv := range cmp.b.run.Machine {
		mb[kv.Key] = kv.Value
		if !slices.Contains(keys, kv.Key) {
			keys = append(keys, kv.Key)
		}
	}
	for _, k := range keys {
		if ma[k] != mb[k] && k != "commit" {
			out = append(out, fmt.Sprintf("%s: %q in A, %q in B", k, ma[k], mb[k]))
		}
	}
	constant := func(r *run, axis string) (string, bool) {
		vals := r.axisValues(axis)
		if len(vals) == 1 {
			return vals[0], true
		}
		return "", false
	}
	var axes []string
	for _, x := range append(slices.Clone(cmp.a.run.Axes), cmp.b.run.Axes...) {
		if !slices.Contains(axes, x) && !slices.Contains(cmp.axes, x) {
			axes = append(axes, x)
		}
	}
	for _, x := range axes {
		va, okA := constant(cmp.a.run, x)
		vb, okB := constant(cmp.b.run, x)
		if okA && okB && va != vb {
			out = append(out, fmt.Sprintf("%s: %s in A, %s in B", x, va, vb))
		}
	}
	return out
}

const compareNote = "B is compared with A cell by cell. A change counts as larger than the spread " +
	"between repetitions only when the two min–max ranges do not overlap; otherwise it says \"within noise\"."

func compareRuns(ra, rb *run, format Format, out string) (Paths, error) {
	a, err := analyse(ra)
	if err != nil {
		return Paths{}, err
	}
	b, err := analyse(rb)
	if err != nil {
		return Paths{}, err
	}
	cmp := pairCells(a, b)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Paths{}, fmt.Errorf("create comparison folder: %w", err)
	}
	p := Paths{Dir: out}
	t := cmp.table()
	if format.wants(FormatMarkdown) {
		p.Markdown = filepath.Join(out, "compare.md")
		if err := writeFile(p.Markdown, func(w io.Writer) error { return cmp.writeMarkdown(w, t) }); err != nil {
			return p, err
		}
	}
	if format.wants(FormatCSV) {
		path := filepath.Join(out, "compare.csv")
		if err := writeFile(path, t.writeCSV); err != nil {
			return p, err
		}
		p.CSV = []string{path}
	}
	if format.wants(FormatBench) {
		// One file per run, named by the run, so `benchstat A.txt B.txt`
		// heads its columns with the run ids.
		for _, r := range []*run{ra, rb} {
			path := filepath.Join(out, benchToken(r.ID)+".txt")
			if err := writeFile(path, func(w io.Writer) error { return writeBenchstat(w, r) }); err != nil {
				return p, err
			}
			p.Benchstat = append(p.Benchstat, path)
		}
	}
	if format.wants(FormatHTML) {
		if err := cmp.writeHTML(&p, t); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (cmp comparison) writeMarkdown(w io.Writer, t table) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# sockbench: run %s (B) against run %s (A)\n\n", cmp.b.run.ID, cmp.a.run.ID)
	for _, x := range cmp.sides() {
		var parts []string
		for _, kv := range x.a.facts() {
			parts = append(parts, kv.Key+" "+kv.Value)
		}
		fmt.Fprintf(&sb, "- **%s**: %s\n", x.label, mdEscape(strings.Join(parts, "; ")))
	}
	if d := cmp.settingDifferences(); len(d) > 0 {
		sb.WriteString("\n**The runs differ in**\n\n")
		for _, s := range d {
			sb.WriteString("- " + mdEscape(s) + "\n")
		}
	}
	sb.WriteString("\n" + compareNote + "\n\n")
	if err := t.writeMarkdown(&sb); err != nil {
		return err
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func (cmp comparison) writeHTML(p *Paths, t table) error {
	pal := newPalette(cmp.a.run.servers(), cmp.b.run.servers())
	figs, err := p.drawCharts(cmp.charts(pal))
	if err != nil {
		return err
	}
	h, err := t.html()
	if err != nil {
		return err
	}
	secs := []pageSection{{Title: "Cell by cell", Note: compareNote, Tables: []pageTable{{HTML: h}}}}
	if len(figs) > 0 {
		secs = append(secs, pageSection{Title: "Requests/s, A against B", Figures: figs})
	}
	var warnings []string
	if d := cmp.settingDifferences(); len(d) > 0 {
		warnings = append(warnings, "The runs differ in: "+strings.Join(d, "; ")+".")
	}
	var facts [][]keyValue
	for _, x := range cmp.sides() {
		for _, w := range x.a.warnings() {
			warnings = append(warnings, "Run "+x.label+": "+w)
		}
		// The run's id heads its column under its letter.
		facts = append(facts, append([]keyValue{{x.label, x.a.run.ID}}, x.a.facts()[1:]...))
	}
	d := pageFor(pal, *p)
	d.Title = fmt.Sprintf("sockbench: run %s against run %s", cmp.b.run.ID, cmp.a.run.ID)
	d.Subtitle = "A is the baseline, B the run compared with it."
	d.FactColumns = splitFacts(facts...)
	d.Warnings = warnings
	d.Sections = secs
	return p.writePage(d)
}
