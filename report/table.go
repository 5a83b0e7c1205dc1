package report

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// table is one table in a form every output can render: people read Text,
// spreadsheets get CSV (raw numbers, several columns where people read one).
type table struct {
	Columns []column
	Rows    [][]field
}

type column struct {
	Title   string   // Markdown and HTML header
	CSV     []string // CSV headers this column expands to
	Numeric bool     // right-aligned
	Help    string   // HTML header tooltip: what the number is
}

type field struct {
	Text string
	CSV  []string
	Tip  string // HTML tooltip with detail the cell has no room for
	Warn bool   // HTML highlight: a value that should not be quoted blindly
}

func textField(s string) field { return field{Text: s, CSV: []string{s}} }

// writeMarkdown writes the table as a GitHub-flavoured Markdown table.
func (t table) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range t.Columns {
		b.WriteString(" " + mdEscape(c.Title) + " |")
	}
	b.WriteString("\n|")
	for _, c := range t.Columns {
		if c.Numeric {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, row := range t.Rows {
		b.WriteString("|")
		for _, f := range row {
			b.WriteString(" " + mdEscape(f.Text) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// writeCSV writes the table with one header row; columns that expand to
// several CSV columns contribute all of them.
func (t table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	var head []string
	for _, c := range t.Columns {
		head = append(head, c.CSV...)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for i, row := range t.Rows {
		var rec []string
		for j, f := range row {
			if len(f.CSV) != len(t.Columns[j].CSV) {
				return fmt.Errorf("csv row %d column %q: %d values for %d headers", i, t.Columns[j].Title, len(f.CSV), len(t.Columns[j].CSV))
			}
			rec = append(rec, f.CSV...)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// html renders the table for the page; escaping is html/template's.
func (t table) html() (template.HTML, error) {
	var b strings.Builder
	if err := tableTemplate.Execute(&b, t); err != nil {
		return "", fmt.Errorf("render HTML table: %w", err)
	}
	return template.HTML(b.String()), nil
}

var tableTemplate = template.Must(template.New("table").Parse(`<div class="scroll"><table>
<thead><tr>{{range .Columns}}<th{{if .Numeric}} class="num"{{end}}{{if .Help}} title="{{.Help}}"{{end}}>{{.Title}}</th>{{end}}</tr></thead>
<tbody>
{{- $cols := .Columns}}
{{- range .Rows}}
<tr>{{range $i, $f := .}}<td{{$c := index $cols $i}}{{if or $c.Numeric $f.Warn}} class="{{if $c.Numeric}}num{{end}}{{if $f.Warn}} warn{{end}}"{{end}}{{if $f.Tip}} title="{{$f.Tip}}"{{end}}>{{$f.Text}}</td>{{end}}</tr>
{{- end}}
</tbody></table></div>`))
