package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/sockbench/sockbench/runner/results"
)

// Confidence is the level of the interval adaptive repetitions narrow,
// the report's level too.
const Confidence = results.IntervalConfidence

// adaptiveRounds measures, round after round and still interleaved, the
// cells whose confidence interval is wider than the plan's ci, until none
// is or a cell has max repetitions.
func (r *run) adaptiveRounds(ctx context.Context) (results.Status, string, error) {
	plan := &r.m.Plan
	for rep := plan.Repetitions + 1; rep <= plan.Adaptive.Max; rep++ {
		var round []job
		var wide []string
		for i := range plan.Cells {
			c := &plan.Cells[i]
			if p := r.precision(c); !p.converged {
				wide = append(wide, fmt.Sprintf("%s %s", c.ID, p))
				if j := (job{c, rep}); !r.done(j) {
					round = append(round, j)
				}
			}
		}
		if len(wide) == 0 {
			break
		}
		r.show.say("round %d: %d cells not yet within ±%.1f%%: %s", rep, len(wide), 100*float64(plan.Adaptive.CI), strings.Join(wide, ", "))
		if status, reason, err := r.work(ctx, round); status != results.Complete {
			return status, reason, err
		}
	}
	return results.Complete, "", nil
}

// precision is how well a cell's repetitions pin its number down.
type precision struct {
	measure   results.Measure
	n         int
	halfWidth float64 // the interval's larger distance from the median, as a share of it
	converged bool
	why       string // when there is no interval
}

func (p precision) String() string {
	if p.why != "" {
		return "(" + p.why + ")"
	}
	return fmt.Sprintf("(±%.1f%% of %s, n=%d)", 100*p.halfWidth, p.measure, p.n)
}

// precision reads the cell's repetitions and asks package results how
// well they pin down the number the cell is ranked by: the one definition
// of that number and of which repetitions count, which the report uses
// too. The report ranks a group by CPU per request when any of its cells
// was client-saturated; a cell here converges on its own measure (see
// results.RankedBy).
func (r *run) precision(c *results.Cell) precision {
	var reps []*results.Rep
	for rep := 1; rep <= r.m.Plan.MaxRepetitions(); rep++ {
		if res, err := results.ReadRep(r.dir, c.ID, rep); err == nil {
			reps = append(reps, res)
		}
	}
	p := results.CellPrecision(c, reps, r.m.Plan.Adaptive.CI)
	return precision{measure: p.Measure, n: p.N, halfWidth: p.HalfWidth, converged: p.Converged, why: p.Why}
}
