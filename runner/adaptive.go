package runner

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
)

// Confidence is the level of the interval adaptive repetitions narrow.
const Confidence = 0.95

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
	n         int
	halfWidth float64 // of the confidence interval, as a share of the median
	converged bool
	why       string // when there is no interval
}

func (p precision) String() string {
	if p.why != "" {
		return "(" + p.why + ")"
	}
	return fmt.Sprintf("(±%.1f%%, n=%d)", 100*p.halfWidth, p.n)
}

// precision computes the confidence interval of the median of the
// number the report ranks the cell by: requests/s (bytes/s in stream
// mode), or server CPU per request where the client was the limit.
// Failed repetitions and those measured on a busy machine do not count.
func (r *run) precision(c *results.Cell) precision {
	var rps, cpu []float64
	saturated := false
	for rep := 1; rep <= r.m.Plan.MaxRepetitions(); rep++ {
		res, err := results.ReadRep(r.dir, c.ID, rep)
		if err != nil || res.Status != results.OK || (res.Machine != nil && res.Machine.Busy) {
			continue
		}
		v := res.Load.RequestsPerS
		if c.Load.Mode == string(loadgen.Stream) {
			v = res.Load.BytesPerS
		}
		rps = append(rps, v)
		saturated = saturated || res.Load.Saturated
		if cost := res.Cost(nil); cost != nil {
			cpu = append(cpu, cost.CPUTotalUS)
		}
	}
	values := rps
	if saturated {
		values = cpu
	}
	p := precision{n: len(values)}
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(values, &benchmath.DefaultThresholds), Confidence)
	switch {
	case len(s.Warnings) > 0:
		p.why = fmt.Sprintf("n=%d: %v", len(values), s.Warnings[0])
	case s.Center <= 0:
		p.why = "nothing measured"
	default:
		p.halfWidth = (s.Hi - s.Lo) / 2 / s.Center
		p.converged = p.halfWidth <= float64(r.m.Plan.Adaptive.CI)
	}
	return p
}
