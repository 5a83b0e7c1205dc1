package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// analysis is everything computed from one run that more than one output
// needs; computing it once keeps Markdown, CSV and HTML in agreement.
type analysis struct {
	run      *run
	sums     []summary // in table order
	byCell   map[*cell]summary
	rankings []ranking // one per group
}

func analyse(r *run) (*analysis, error) {
	sums, err := summariseAll(r.sortedCells())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Dir, err)
	}
	a := &analysis{run: r, sums: sums, byCell: map[*cell]summary{}}
	for _, s := range sums {
		a.byCell[s.Cell] = s
	}
	for _, g := range groupBy(r.Cells, r.groupAxes()) {
		a.rankings = append(a.rankings, rankGroup(g, a.byCell))
	}
	return a, nil
}

// facts are the lines that say what was measured, shared by the Markdown
// header and the page.
func (a *analysis) facts() []keyValue {
	r := a.run
	f := []keyValue{{"run", r.ID}, {"status", r.Status}}
	if r.Started != "" {
		f = append(f, keyValue{"started", r.Started})
	}
	if r.Finished != "" {
		f = append(f, keyValue{"finished", r.Finished})
	}
	var kinds []string
	reps := 0
	for _, s := range a.sums {
		reps = max(reps, s.measured())
		for _, k := range strings.Split(s.LatencyKind, "+") {
			if k != "" && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.Sort(kinds)
	f = append(f, keyValue{"cells", fmt.Sprintf("%d, up to %d repetitions each", len(r.Cells), reps)})
	if ad := r.Adaptive; ad != nil {
		f = append(f, keyValue{"repetitions", fmt.Sprintf("%d to %d, until the %.0f%% interval of the median is within ±%s", r.Repetitions, ad.Max, 100*ciLevel, fmtShare(float64(ad.CI)))})
	}
	if c := r.Control; c != nil {
		f = append(f, keyValue{"drift control", fmt.Sprintf("%s, after every %d repetitions (%s)", c.name(), c.Every, plural(len(c.Cell.Reps), "measurement"))})
	}
	if r.hasInterference() {
		f = append(f, keyValue{"interference", "a repetition is busy above " + fmtShare(r.InterferenceMax) + " of a CPU set's time"})
	}
	if len(kinds) > 0 {
		f = append(f, keyValue{"latency", strings.Join(kinds, ", ")})
	}
	return f
}

// warnings are the sentences a reader must see before quoting a number.
func (a *analysis) warnings() []string {
	var w []string
	r := a.run
	if r.Status != "" && r.Status != "complete" {
		w = append(w, fmt.Sprintf("The run's status is %q: it did not finish, so some cells have fewer repetitions than planned.", r.Status))
	}
	var sat, errs, failed, busy, unranked, wide, uneven []string
	for _, s := range a.sums {
		label := cellLabel(r, s.Cell)
		if s.Busy > 0 {
			busy = append(busy, fmt.Sprintf("%s: %d of %d", label, s.Busy, s.measured()))
			if s.OK == 0 {
				unranked = append(unranked, label)
			}
		}
		if r.Adaptive != nil && !s.Cell.Precision.Converged {
			wide = append(wide, label)
		}
		if s.Saturated {
			sat = append(sat, label)
		}
		if s.LowestShare < unevenShare {
			uneven = append(uneven, fmt.Sprintf("%s (%s: %.2f× the mean share)", label, s.LowestAgent, s.LowestShare))
		}
		if s.Errors > 0 {
			errs = append(errs, fmt.Sprintf("%s (%s)", label, s.errorKindsText()))
		}
		if s.Failed > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d of %d", label, s.Failed, s.OK+s.Failed))
		}
	}
	if len(sat) > 0 {
		w = append(w, "The load generator was saturated in "+strings.Join(sat, "; ")+": their requests/s and latency measure the client, "+
			"not the server, so a ranking that holds one is by server CPU per request.")
	}
	if len(uneven) > 0 {
		w = append(w, fmt.Sprintf("An agent sent less than %.1f× the mean share of requests in %s: see Agents.", unevenShare, strings.Join(uneven, "; ")))
	}
	if len(errs) > 0 {
		w = append(w, "Requests failed in "+strings.Join(errs, "; ")+".")
	}
	if len(failed) > 0 {
		w = append(w, "Repetitions failed in "+strings.Join(failed, "; ")+"; their cells are summarised from the rest.")
	}
	if len(busy) > 0 {
		s := "Repetitions measured on a busy machine (other work or steal above " + fmtShare(r.InterferenceMax) + " of a CPU set) " +
			"are left out of their cells' numbers, rankings and comparisons (see Interference): " + strings.Join(busy, "; ") + "."
		if len(unranked) > 0 {
			verb := "are"
			if len(unranked) == 1 {
				verb = "is"
			}
			s += " " + joinAnd(unranked) + " had no quiet repetition and " + verb + " not ranked."
		}
		w = append(w, s)
	}
	if len(wide) > 0 {
		w = append(w, fmt.Sprintf("%s did not get within ±%s by their last repetition (the plan allows %d): %s. Their intervals are in the results table.",
			plural(len(wide), "cell"), fmtShare(float64(r.Adaptive.CI)), r.Adaptive.Max, strings.Join(wide, "; ")))
	}
	w = append(w, r.driftWarnings()...)
	if len(r.Unfinished) > 0 {
		w = append(w, fmt.Sprintf("%d planned repetition(s) never ran; see the list at the end.", len(r.Unfinished)))
	}
	return w
}

// cellLabel names a cell by the axes that vary, e.g.
// "server=epoll, keep_alive=true".
func cellLabel(r *run, c *cell) string {
	var parts []string
	for _, a := range r.varyingAxes() {
		parts = append(parts, a+"="+c.Axes[a])
	}
	return strings.Join(parts, ", ")
}

// problems lists every failed or missing repetition with its reason.
func (a *analysis) problems() []string {
	var out []string
	r := a.run
	for _, s := range a.sums {
		for _, rp := range s.Cell.Reps {
			if !rp.OK {
				out = append(out, fmt.Sprintf("%s, rep %d: failed: %s", cellLabel(r, s.Cell), rp.Index, rp.Reason))
			}
		}
	}
	if c := r.Control; c != nil {
		for _, rp := range c.Cell.Reps {
			if !rp.OK {
				out = append(out, fmt.Sprintf("drift control %s, measurement %d: failed: %s", c.name(), rp.Index, rp.Reason))
			}
		}
	}
	for _, u := range r.Unfinished {
		label := u.CellID
		if i := slices.IndexFunc(r.Cells, func(c *cell) bool { return c.ID == u.CellID }); i >= 0 {
			label = cellLabel(r, r.Cells[i])
		}
		out = append(out, fmt.Sprintf("%s, rep %d: not run: %s", label, u.Rep, u.Reason))
	}
	return out
}

// methodNote says how the results table's numbers were made.
func (a *analysis) methodNote() string {
	busy := ""
	if a.run.hasInterference() {
		busy = " Repetitions measured on a busy machine do not count: they are shown under Interference and left out of every number."
	}
	return statsNote() + busy + " The latency percentiles of the results table are over every request of a cell's " +
		"repetitions (their HdrHistograms merged); the rankings and comparisons test each repetition's own p50 and p99. " +
		"CPU is the server process's, per request answered."
}

// shortWindows are the distinct windows of the groups whose time series
// the report leaves out as too short to show anything.
func (a *analysis) shortWindows() []time.Duration {
	var ws []time.Duration
	for _, g := range groupBy(a.run.Cells, a.run.groupAxes()) {
		if !timelineWindowsTooShort(g) {
			continue
		}
		for _, c := range g.Cells {
			if !slices.Contains(ws, c.Window) {
				ws = append(ws, c.Window)
			}
		}
	}
	slices.Sort(ws)
	return ws
}
