package report

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// Compare reads two results folders and writes a cell-by-cell comparison
// of the second (B, usually the newer) against the first (A): requests/s,
// server CPU per request, p50 and p99 latency side by side, and for each
// the change with its confidence interval where a rank test over the
// repetitions finds one, "no significant difference" where it does not,
// and "too few repetitions to tell" where it could not.
func Compare(runDirA, runDirB string, opts Options) (Paths, error) {
	a, err := loadRun(runDirA)
	if err != nil {
		return Paths{}, err
	}
	b, err := loadRun(runDirB)
	if err != nil {
		return Paths{}, err
	}
	return compareRuns(a, b, opts.Format, opts.outDir(runDirB, filepath.Join("report", "vs-"+a.ID)))
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

// table has a row per cell: each measure in A and in B, and the change.
func (cmp comparison) table() table {
	var cols []column
	for _, m := range testedMeasures {
		cols = append(cols,
			m.valueColumn("A "+m.Title, "a_"+m.Key), m.valueColumn("B "+m.Title, "b_"+m.Key),
			diffColumn(m.Title+" change", m.Key+"_change", "B against A"))
	}
	return cmp.pairTable(cols, func(p cellPair) []field {
		var row []field
		for _, m := range testedMeasures {
			row = append(row, p.value(m, p.A), p.value(m, p.B), p.change(m))
		}
		return row
	})
}

// pairTable has a row per pair of cells: their axes, the columns that
// fields fills, and each run's flags.
func (cmp comparison) pairTable(cols []column, fields func(cellPair) []field) table {
	var t table
	for _, x := range cmp.axes {
		t.Columns = append(t.Columns, column{Title: x, CSV: []string{x}})
	}
	t.Columns = append(t.Columns, cols...)
	t.Columns = append(t.Columns, column{Title: "flags", CSV: []string{"a_flags", "b_flags"}})
	for _, p := range cmp.pairs {
		var row []field
		for _, x := range cmp.axes {
			row = append(row, textField(p.Axes[x]))
		}
		row = append(row, fields(p)...)
		t.Rows = append(t.Rows, append(row, p.flags()))
	}
	return t
}

func (p cellPair) value(m measure, s *summary) field {
	if s == nil {
		return m.field(estimateOf(nil))
	}
	return m.field(m.of(*s))
}

// change compares the pair on m.
func (p cellPair) change(m measure) field {
	if f, ok := p.untested(m); ok {
		return f
	}
	return m.diffField(compareEstimates(m.of(*p.A), m.of(*p.B)))
}

// untested is what the pair shows on m where it is not compared: a cell
// only one run has, or a measure the load generator made where it was
// saturated in either run — what it measured is the client's, and only
// what the client cannot change (server CPU per request) is compared.
func (p cellPair) untested(m measure) (field, bool) {
	switch {
	case p.A == nil:
		return untestedField("only in B", "only in B"), true
	case p.B == nil:
		return untestedField("only in A", "only in A"), true
	case m.ClientBound && (p.A.Saturated || p.B.Saturated):
		return untestedField("not compared: client saturated", "client saturated"), true
	}
	return field{}, false
}

// flags lists each run's flags on the cell, "A: errors; B: client
// saturated".
func (p cellPair) flags() field {
	var text, csv []string
	for _, x := range []struct {
		label string
		s     *summary
	}{{"A", p.A}, {"B", p.B}} {
		var fs []string
		if x.s != nil {
			fs = x.s.flags()
		}
		csv = append(csv, strings.Join(fs, "; "))
		if len(fs) > 0 {
			text = append(text, x.label+": "+strings.Join(fs, ", "))
		}
	}
	return field{Text: strings.Join(text, "; "), CSV: csv, Warn: len(text) > 0}
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

// compareNote says how the comparison was made.
func compareNote() string {
	return "B is compared with A cell by cell. " + statsNote() + " Latency here is each repetition's own p50 and p99. " +
		"Where the load generator was saturated in either run, requests/s and latency measure the client, " +
		"so only server CPU per request is compared."
}

func compareRuns(ra, rb *run, format Format, dir outFolder) (Paths, error) {
	a, err := analyse(ra)
	if err != nil {
		return Paths{}, err
	}
	b, err := analyse(rb)
	if err != nil {
		return Paths{}, err
	}
	cmp := pairCells(a, b)
	out, err := dir.create()
	if err != nil {
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
		if rd := cmp.readingOf(); rd.Relative {
			path := filepath.Join(out, "compare-control.csv")
			if err := writeFile(path, cmp.relativeTable(rd).writeCSV); err != nil {
				return p, err
			}
			p.CSV = append(p.CSV, path)
		}
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
	rd := cmp.readingOf()
	if rd.Relative {
		sb.WriteString("\n## Relative to the drift control\n\n" + mdEscape(rd.text()) + "\n\n")
		if err := cmp.relativeTable(rd).writeMarkdown(&sb); err != nil {
			return err
		}
		sb.WriteString("\n## Cell by cell, as measured\n")
	}
	sb.WriteString("\n" + compareNote() + "\n\n")
	if err := t.writeMarkdown(&sb); err != nil {
		return err
	}
	sb.WriteString("\n" + mdEscape(rd.rawNote()) + "\n")
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
	rd := cmp.readingOf()
	var secs []pageSection
	if rd.Relative {
		rh, err := cmp.relativeTable(rd).html()
		if err != nil {
			return err
		}
		secs = append(secs, pageSection{Title: "Relative to the drift control", Note: rd.text(), Tables: []pageTable{{HTML: rh}}})
	}
	secs = append(secs, pageSection{Title: "Cell by cell, as measured", Note: compareNote(), Tables: []pageTable{{HTML: h, Note: rd.rawNote()}}})
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
