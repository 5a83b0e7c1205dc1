package report

import (
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
		rp := &rep{Index: 1, OK: true, Counts: true, Agents: tc.agents, Saturated: agentsSaturated(tc.agents)}
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
