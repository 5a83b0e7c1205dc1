package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sockbench/sockbench/loadgen"
)

// unevenShare is the share of the mean below which an agent's requests
// make a repetition uneven: connections are dealt out evenly (issue #12),
// so an agent well below the others is a slower machine or a worse path,
// and the merged numbers are partly its.
const unevenShare = 0.8

// flagUneven marks a cell in which an agent sent less than unevenShare of
// the mean share of a repetition's requests.
const flagUneven = "agents uneven"

// agentShares are each agent's requests over the mean of the agents';
// nil when they answered nothing, which has no shares.
func agentShares(agents []loadgen.AgentFigures) []float64 {
	var total int64
	for _, a := range agents {
		total += a.Requests
	}
	if total == 0 {
		return nil
	}
	mean := float64(total) / float64(len(agents))
	shares := make([]float64, len(agents))
	for i, a := range agents {
		shares[i] = float64(a.Requests) / mean
	}
	return shares
}

// lowestShare is the smallest agent's share and that agent; 1 without two
// agents.
func lowestShare(agents []loadgen.AgentFigures) (float64, string) {
	if len(agents) < 2 {
		return 1, ""
	}
	low, who := 1.0, ""
	for i, s := range agentShares(agents) {
		if s < low {
			low, who = s, agents[i].Agent
		}
	}
	return low, who
}

// hasAgents says a repetition of the run carries agents' figures.
func (r *run) hasAgents() bool {
	for _, c := range r.allCells() {
		for _, rp := range c.Reps {
			if len(rp.Agents) > 0 {
				return true
			}
		}
	}
	return false
}

// agentsTable lists every agent of every repetition that had agents: its
// requests and their share of the mean, errors, CPU, saturation, clock
// offset and start skew.
func agentsTable(r *run) table {
	axes := r.varyingAxes()
	var t table
	for _, a := range axes {
		t.Columns = append(t.Columns, column{Title: a, CSV: []string{a}})
	}
	t.Columns = append(t.Columns,
		column{Title: "rep", CSV: []string{"rep"}, Numeric: true},
		column{Title: "agent", CSV: []string{"agent"}},
		column{Title: "requests", CSV: []string{"requests"}, Numeric: true},
		column{Title: "share", CSV: []string{"share_of_mean"}, Numeric: true, Help: "the agent's requests over the mean of the repetition's agents; below " + strconv.FormatFloat(unevenShare, 'f', -1, 64) + "× is uneven"},
		column{Title: "errors", CSV: []string{"errors"}, Numeric: true},
		column{Title: "CPU µs/req", CSV: []string{"cpu_per_request_us"}, Numeric: true, Help: "the agent's own CPU per request"},
		column{Title: "saturated", CSV: []string{"saturated"}},
		column{Title: "clock offset", CSV: []string{"clock_offset_us"}, Numeric: true, Help: "the agent's clock minus the coordinator's, measured before the start"},
		column{Title: "start skew", CSV: []string{"start_skew_us"}, Numeric: true, Help: "from the agreed instant to the agent's first request"},
	)
	for _, c := range r.allCells() {
		for _, rp := range c.Reps {
			shares := agentShares(rp.Agents)
			for i, a := range rp.Agents {
				var row []field
				for _, ax := range axes {
					row = append(row, textField(c.Axes[ax]))
				}
				// No requests at all is no share (not NaN×).
				share, shareText := math.NaN(), missing
				if shares != nil {
					share = shares[i]
					shareText = fmt.Sprintf("%.2f×", share)
				}
				uneven := len(rp.Agents) > 1 && share < unevenShare
				if uneven {
					shareText += " uneven"
				}
				sat := textField("no")
				if a.Saturated {
					sat = field{Text: "YES", CSV: []string{"true"}, Warn: true}
				}
				row = append(row, textField(strconv.Itoa(rp.Index)), textField(a.Agent),
					textField(strconv.FormatInt(a.Requests, 10)),
					field{Text: shareText, CSV: []string{csvFloat(share, 3)}, Warn: uneven},
					textField(strconv.FormatInt(a.Errors.Total(), 10)),
					field{Text: fmt.Sprintf("%.2f", a.CPUPerRequestUS), CSV: []string{fmt.Sprintf("%.3f", a.CPUPerRequestUS)}},
					sat,
					field{Text: fmt.Sprintf("%.0f µs", a.ClockOffsetUS), CSV: []string{fmt.Sprintf("%.0f", a.ClockOffsetUS)}},
					field{Text: fmt.Sprintf("%.0f µs", a.StartSkewUS), CSV: []string{fmt.Sprintf("%.0f", a.StartSkewUS)}},
				)
				t.Rows = append(t.Rows, row)
			}
		}
	}
	return t
}

// agentsNote says how to read the agents' table.
var agentsNote = fmt.Sprintf("Each agent's share of its repetition: connections are dealt out evenly, so an agent below %.1f× the mean share of requests is slower than the others (its machine or its path), and a saturated agent makes the cell's client saturated.", unevenShare)
