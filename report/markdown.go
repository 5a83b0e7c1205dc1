package report

import (
	"fmt"
	"io"
	"strings"
)

// writeMarkdown writes the run's report for a README or an issue. It holds
// nothing that changes between two builds of the same folder.
func (a *analysis) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# sockbench run %s\n\n", a.run.ID)
	for _, f := range a.facts() {
		fmt.Fprintf(&b, "- **%s**: %s\n", f.Key, mdEscape(f.Value))
	}
	for _, m := range a.run.Machine {
		fmt.Fprintf(&b, "- **%s**: %s\n", m.Key, mdEscape(m.Value))
	}
	if ws := a.warnings(); len(ws) > 0 {
		b.WriteString("\n**Warnings**\n\n")
		for _, s := range ws {
			b.WriteString("- " + s + "\n")
		}
	}
	b.WriteString("\n## Results\n\n")
	if err := resultsTable(a.run, a.sums).writeMarkdown(&b); err != nil {
		return err
	}
	b.WriteString("\n" + a.methodNote() + "\n")
	b.WriteString("\n## Ranking\n\n" + rankingNote + "\n")
	for _, r := range a.rankings {
		fmt.Fprintf(&b, "\n### %s\n\n", r.Group.Label())
		if err := r.table(false).writeMarkdown(&b); err != nil {
			return err
		}
		b.WriteString("\n" + mdEscape(r.note()) + "\n")
	}
	if r := a.run; r.Control != nil {
		b.WriteString("\n## Drift control\n\n")
		if err := r.controlTable().writeMarkdown(&b); err != nil {
			return err
		}
		b.WriteString("\n" + mdEscape(r.controlNote()) + "\n")
	}
	if r := a.run; r.hasAgents() {
		b.WriteString("\n## Agents\n\n")
		if err := agentsTable(r).writeMarkdown(&b); err != nil {
			return err
		}
		b.WriteString("\n" + mdEscape(agentsNote) + "\n")
	}
	if r := a.run; r.hasInterference() {
		b.WriteString("\n## Interference\n\n")
		if err := interferenceTable(r).writeMarkdown(&b); err != nil {
			return err
		}
		b.WriteString("\n" + mdEscape(interferenceNote(r)) + "\n")
	}
	if ps := a.problems(); len(ps) > 0 {
		b.WriteString("\n## Failed or missing repetitions\n\n")
		for _, p := range ps {
			b.WriteString("- " + mdEscape(p) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
