package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sockbench/sockbench/internal/atomicfile"
	"github.com/sockbench/sockbench/internal/inside"
)

// Format selects which outputs Build and Compare write.
type Format string

// The formats. Markdown is for a README or an issue, CSV for a spreadsheet,
// HTML is the page with every plot, Bench is the benchstat export.
const (
	FormatMarkdown Format = "md"
	FormatCSV      Format = "csv"
	FormatHTML     Format = "html"
	FormatBench    Format = "bench"
	FormatAll      Format = "all"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatMarkdown, FormatCSV, FormatHTML, FormatBench, FormatAll:
		return f, nil
	case "":
		return FormatAll, nil
	}
	return "", fmt.Errorf("unknown report format %q: use md, csv, html, bench or all", s)
}

func (f Format) wants(o Format) bool { return f == "" || f == FormatAll || f == o }

// Options control what a report writes and where.
type Options struct {
	// Format selects the outputs; empty means FormatAll.
	Format Format
	// OutDir is the folder written to. Empty means <run>/report for Build
	// and <second run>/report/vs-<first run's id> for Compare.
	OutDir string
}

// Paths lists what a report wrote, for the caller to print or link.
type Paths struct {
	Dir       string
	Markdown  string   // report.md or compare.md
	CSV       []string // cells.csv, ranking.csv and the run's interference.csv, control.csv and agents.csv; or compare.csv
	Benchstat []string // bench.txt, or one file per run: a line per repetition
	HTML      string   // index.html
	Plots     []string // every PNG and SVG
}

// All returns every written file, in a stable order.
func (p Paths) All() []string {
	var out []string
	for _, s := range append([]string{p.HTML, p.Markdown}, p.CSV...) {
		if s != "" {
			out = append(out, s)
		}
	}
	out = append(out, p.Benchstat...)
	return append(out, p.Plots...)
}

// Build reads the results folder runDir and writes its report: tables,
// ranking, benchstat export, plots and the HTML page, as opts selects.
// It needs nothing but the stored results.
func Build(runDir string, opts Options) (Paths, error) {
	r, err := loadRun(runDir)
	if err != nil {
		return Paths{}, err
	}
	return buildRun(r, opts.Format, opts.outDir(runDir, "report"))
}

// outDir is the folder the user named, or rel inside the results folder
// root; the folder itself is made once there is something to write.
func (o Options) outDir(root, rel string) outFolder {
	if o.OutDir != "" {
		return outFolder{path: o.OutDir}
	}
	return outFolder{root: root, rel: rel}
}

// outFolder is where a report goes: a folder the user named, made as
// named, or one inside a results folder, made there without following a
// link out of it (inside.Dir).
type outFolder struct{ path, root, rel string }

func (f outFolder) create() (string, error) {
	if f.root == "" {
		return f.path, os.MkdirAll(f.path, 0o755)
	}
	return inside.Dir(f.root, f.rel)
}

func buildRun(r *run, format Format, dir outFolder) (Paths, error) {
	a, err := analyse(r)
	if err != nil {
		return Paths{}, err
	}
	out, err := dir.create()
	if err != nil {
		return Paths{}, fmt.Errorf("create report folder: %w", err)
	}
	p := Paths{Dir: out}
	if format.wants(FormatMarkdown) {
		p.Markdown = filepath.Join(out, "report.md")
		if err := writeFile(p.Markdown, a.writeMarkdown); err != nil {
			return p, err
		}
	}
	if format.wants(FormatCSV) {
		cells := filepath.Join(out, "cells.csv")
		if err := writeFile(cells, resultsTable(r, a.sums).writeCSV); err != nil {
			return p, err
		}
		ranking := filepath.Join(out, "ranking.csv")
		if err := writeFile(ranking, rankingCSVTable(a.rankings).writeCSV); err != nil {
			return p, err
		}
		p.CSV = []string{cells, ranking}
		// The tables only some runs have.
		for _, o := range []struct {
			name  string
			has   bool
			table func() table
		}{
			{"interference.csv", r.hasInterference(), func() table { return interferenceCSVTable(r) }},
			{"control.csv", r.Control != nil, r.controlTable},
			{"agents.csv", r.hasAgents(), func() table { return agentsTable(r) }},
		} {
			if !o.has {
				continue
			}
			path := filepath.Join(out, o.name)
			if err := writeFile(path, o.table().writeCSV); err != nil {
				return p, err
			}
			p.CSV = append(p.CSV, path)
		}
	}
	if format.wants(FormatBench) {
		path := filepath.Join(out, "bench.txt")
		if err := writeFile(path, func(w io.Writer) error { return writeBenchstat(w, r) }); err != nil {
			return p, err
		}
		p.Benchstat = []string{path}
	}
	if format.wants(FormatHTML) {
		if err := a.writeHTML(&p); err != nil {
			return p, err
		}
	}
	return p, nil
}

// writeHTML draws every chart into plots/ and writes index.html around them.
func (a *analysis) writeHTML(p *Paths) error {
	r := a.run
	pal := newPalette(r.servers())
	figs, err := p.drawCharts(newChartBuilder(r, a.sums, pal).all())
	if err != nil {
		return err
	}

	results, err := resultsTable(r, a.sums).html()
	if err != nil {
		return err
	}
	secs := []pageSection{{Title: "Results", Note: a.methodNote(), Tables: []pageTable{{HTML: results}}}}
	rank := pageSection{Title: "Ranking", Note: rankingNote}
	for _, rk := range a.rankings {
		h, err := rk.table(false).html()
		if err != nil {
			return err
		}
		rank.Tables = append(rank.Tables, pageTable{Title: rk.Group.Label(), HTML: h, Note: rk.note()})
	}
	secs = append(secs, rank)
	secs = append(secs, figureSections(figs)...)
	if ws := a.shortWindows(); len(ws) > 0 {
		secs = append(secs, pageSection{Title: "Over time", Note: noTimelineNote(ws)})
	}
	if r.Control != nil {
		h, err := r.controlTable().html()
		if err != nil {
			return err
		}
		sec := pageSection{Title: "Drift control", Note: r.controlNote(), Tables: []pageTable{{HTML: h}}}
		for _, f := range figs {
			if f.Kind == kindControl {
				sec.Figures = append(sec.Figures, f)
			}
		}
		secs = append(secs, sec)
	}
	if r.hasAgents() {
		h, err := agentsTable(r).html()
		if err != nil {
			return err
		}
		secs = append(secs, pageSection{Title: "Agents", Note: agentsNote, Tables: []pageTable{{HTML: h}}})
	}
	if r.hasInterference() {
		h, err := interferenceTable(r).html()
		if err != nil {
			return err
		}
		secs = append(secs, pageSection{Title: "Interference", Note: interferenceNote(r), Tables: []pageTable{{HTML: h}}})
	}
	if ps := a.problems(); len(ps) > 0 {
		secs = append(secs, pageSection{Title: "Failed or missing repetitions", Items: ps})
	}
	setup := pageSection{Title: "Configuration", PreTitle: "configuration file as run", Pre: r.ConfigText}
	if len(r.Sysctls) > 0 {
		h, err := keyValueTable("sysctl", r.Sysctls).html()
		if err != nil {
			return err
		}
		setup.Tables = []pageTable{{Title: "Kernel settings", HTML: h}}
	}
	if setup.Pre != "" || setup.Tables != nil {
		secs = append(secs, setup)
	}

	d := pageFor(pal, *p)
	d.Title = "sockbench run " + r.ID
	d.Subtitle = "Comparison of HTTP server I/O models: requests/s, latency percentiles and server cost per request."
	d.FactColumns = splitFacts(a.facts(), r.Machine)
	d.Warnings = a.warnings()
	d.Sections = secs
	d.Files = append(d.Files, pageLink{Name: "plots/", Href: "plots/"})
	return p.writePage(d)
}

// keyValueTable shows settings as a two-column table.
func keyValueTable(keyTitle string, kvs []keyValue) table {
	t := table{Columns: []column{{Title: keyTitle, CSV: []string{keyTitle}}, {Title: "value", CSV: []string{"value"}}}}
	for _, kv := range kvs {
		t.Rows = append(t.Rows, []field{textField(kv.Key), textField(kv.Value)})
	}
	return t
}

// writeFile renders into memory first, so a failed render never leaves
// half a file, then writes atomically, so a browser open on the page never
// reads a partial one.
func writeFile(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeBytes(path, buf.Bytes())
}

// writeBytes writes a report's file, refusing to write through a link or
// into anything but a regular file planted where it goes.
func writeBytes(path string, data []byte) error {
	path, err := inside.File(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data)
}
