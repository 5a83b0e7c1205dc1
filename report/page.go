package report

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"

	"github.com/sockbench/sockbench/internal/inside"
)

//go:embed page.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

// pageData is what the page template shows, in order.
type pageData struct {
	Title, Subtitle string
	FactColumns     [][]keyValue
	Servers         []serverSwatch
	Warnings        []string
	Sections        []pageSection
	Files           []pageLink
}

type serverSwatch struct{ Name, CSS string }

type pageSection struct {
	Title, Note string
	Tables      []pageTable
	Figures     []pageFigure
	Items       []string
	// Pre is shown folded, under PreTitle: long text most readers skip.
	PreTitle, Pre string
}

// pageTable is a table with an optional heading above and a sentence
// below that says how to read it.
type pageTable struct {
	Title, Note string
	HTML        template.HTML
}

// pageFigure embeds a chart's PNG in the page as a data URI, so the page is
// one file that opens anywhere without a network or its folder.
type pageFigure struct {
	Name, Title, Caption string
	Kind                 chartKind
	DataURI              template.URL
	PNG, SVG             string // relative links to the full files
	Width, Height        int    // CSS pixels, so the layout does not jump while decoding
}

type pageLink struct{ Name, Href string }

// drawCharts saves every chart as PNG and SVG under plots/, lists the files
// in p, and returns the figures the page embeds.
func (p *Paths) drawCharts(charts []*chart) ([]pageFigure, error) {
	plotDir, err := inside.Dir(p.Dir, "plots")
	if err != nil {
		return nil, fmt.Errorf("create plot folder: %w", err)
	}
	var figs []pageFigure
	for _, ch := range charts {
		png, svg, err := ch.save(plotDir)
		if err != nil {
			return nil, err
		}
		p.Plots = append(p.Plots, png, svg)
		f, err := figureFor(ch, png, svg, p.Dir)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// figureFor reads a saved chart back for embedding; relTo is the page's
// folder, for the links to the files.
func figureFor(ch *chart, pngPath, svgPath, relTo string) (pageFigure, error) {
	data, err := os.ReadFile(pngPath)
	if err != nil {
		return pageFigure{}, fmt.Errorf("embed chart in page: %w", err)
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(relTo, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	return pageFigure{
		Name: ch.Name, Title: ch.Title, Caption: ch.Caption, Kind: ch.Kind,
		DataURI: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(data)),
		PNG:     rel(pngPath), SVG: rel(svgPath),
		Width:  int(chartWidth.Points() * 96 / 72),
		Height: int(ch.height().Points() * 96 / 72),
	}, nil
}

// pageFor starts a report's page: the legend of server colours and the
// links to the other files the report wrote.
func pageFor(pal palette, p Paths) pageData {
	var d pageData
	for _, s := range pal.names {
		d.Servers = append(d.Servers, serverSwatch{Name: s, CSS: cssColour(pal.colour(s))})
	}
	for _, f := range append(append([]string{p.Markdown}, p.CSV...), p.Benchstat...) {
		if f != "" {
			d.Files = append(d.Files, pageLink{Name: filepath.Base(f), Href: filepath.Base(f)})
		}
	}
	return d
}

// writePage writes the page as the report's index.html.
func (p *Paths) writePage(d pageData) error {
	p.HTML = filepath.Join(p.Dir, "index.html")
	return writeFile(p.HTML, func(w io.Writer) error {
		if err := pageTemplate.Execute(w, d); err != nil {
			return fmt.Errorf("render page: %w", err)
		}
		return nil
	})
}

// splitFacts puts the run facts and the machine side by side.
func splitFacts(cols ...[]keyValue) [][]keyValue {
	var out [][]keyValue
	for _, c := range cols {
		if len(c) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// figureSections puts the figures under their section headings, keeping
// the order the charts were built in within a section.
func figureSections(figs []pageFigure) []pageSection {
	var secs []pageSection
	for _, cs := range chartSections {
		sec := pageSection{Title: cs.Title}
		for _, kind := range cs.Kinds {
			for _, f := range figs {
				if f.Kind == kind {
					sec.Figures = append(sec.Figures, f)
				}
			}
		}
		if len(sec.Figures) > 0 {
			secs = append(secs, sec)
		}
	}
	return secs
}
