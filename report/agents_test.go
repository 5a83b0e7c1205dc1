package report

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/loadgen"
)

// A cell whose agents' shares are uneven, or one of whose agents was
// saturated, is flagged, and the agents' table shows each one.
func TestReportAgentsFlagged(t *testing.T) {
	even := []loadgen.AgentFigures{{Agent: "198.18.0.2:7000", Requests: 1000}, {Agent: "198.18.0.3:7000", Requests: 980}}
	uneven := []loadgen.AgentFigures{{Agent: "198.18.0.2:7000", Requests: 1000}, {Agent: "198.18.0.3:7000", Requests: 500, StartSkewUS: 850}}
	saturated := []loadgen.AgentFigures{{Agent: "198.18.0.2:7000", Requests: 1000, Saturated: true}, {Agent: "198.18.0.3:7000", Requests: 1000}}
	for name, tc := range map[string]struct {
		agents []loadgen.AgentFigures
		want   []string
	}{
		"even":      {even, nil},
		"uneven":    {uneven, []string{"agents uneven: 198.18.0.3:7000 sent 0.67× the mean share"}},
		"saturated": {saturated, []string{flagSaturated}},
	} {
		rp := &rep{Index: 1, OK: true, Counts: true, Agents: tc.agents, Saturated: slices.ContainsFunc(tc.agents, func(a loadgen.AgentFigures) bool { return a.Saturated })}
		c := &cell{ID: "c1", Axes: map[string]string{serverAxis: "epoll"}, Reps: []*rep{rp}}
		s, err := summarise(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.flags(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: flags %q, want %q", name, got, tc.want)
		}
		tab := agentsTable(&run{Cells: []*cell{c}})
		if len(tab.Rows) != 2 {
			t.Fatalf("%s: %d rows in the agents' table, want 2", name, len(tab.Rows))
		}
	}
}

// TestBuildAgentsFixture builds the report of run-e, a distributed run,
// and holds it to golden files: the Markdown, the agents' CSV and the
// page's Agents section come from one table, so each must show every
// agent of every repetition, the uneven one and the saturated one.
func TestBuildAgentsFixture(t *testing.T) {
	p, err := Build(filepath.Join("testdata", "run-e"), Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "run-e.md")
	var agentsCSV string
	for _, f := range p.CSV {
		if filepath.Base(f) == "agents.csv" {
			agentsCSV = f
		}
	}
	if agentsCSV == "" {
		t.Fatalf("no agents.csv among %v", p.CSV)
	}
	checkGolden(t, agentsCSV, "run-e-agents.csv")
	checkGolden(t, p.CSV[0], "run-e-cells.csv")

	page, err := os.ReadFile(p.HTML)
	if err != nil {
		t.Fatal(err)
	}
	sec := pageSectionHTML(t, string(page), "Agents")
	section := filepath.Join(t.TempDir(), "agents.html")
	if err := os.WriteFile(section, []byte(sec), 0o644); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, section, "run-e-agents.html")
	// 3 cells × 4 repetitions × 3 agents; the uneven agent's share and
	// the saturated agent are highlighted.
	if n := strings.Count(sec, "<tr>") - 1; n != 36 {
		t.Errorf("%d agent rows on the page, want 36", n)
	}
	if n := strings.Count(sec, `class="num warn"`); n != 4 {
		t.Errorf("%d highlighted shares, want poll's 4 repetitions of 198.18.0.4", n)
	}
	if n := strings.Count(sec, `<td class=" warn">YES</td>`); n != 1 {
		t.Errorf("%d saturated agents shown, want 1 (198.18.0.3 in epoll's third repetition)", n)
	}
	for _, want := range []string{"agents uneven: 198.18.0.4:7000 sent 0.6", "client saturated"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks the flag %q", want)
		}
	}
}

// pageSectionHTML is the page's section under <h2>title</h2>, up to its
// end.
func pageSectionHTML(t *testing.T, page, title string) string {
	t.Helper()
	start := strings.Index(page, "<h2>"+title+"</h2>")
	if start < 0 {
		t.Fatalf("the page has no %s section", title)
	}
	end := strings.Index(page[start:], "</section>")
	if end < 0 {
		t.Fatalf("the %s section does not end", title)
	}
	return page[start : start+end+len("</section>")]
}
