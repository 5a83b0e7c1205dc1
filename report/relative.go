package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// A machine moves between runs on its own: on the 2-core VM of issue #10
// two identical, quiet runs a minute apart differed by +19% and +22%. Two
// runs that both measured the same drift control can be read relative to
// it instead: each repetition of a cell divided by the control measured
// nearest to it in time in its own run, and the rank test made on those
// ratios, so that whatever moved the whole machine — the control as much
// as the cells — cancels out.

// reading says how a comparison reads the cells: relative to the drift
// control, or as measured and why.
type reading struct {
	// Relative says both runs have the same control with counted
	// measurements; Why says why not.
	Relative bool
	Why      string
	Control  string
	// ControlChange is the control's own change from A to B on each of
	// controlMeasures.
	ControlChange []difference
	// SaturatedIn names the runs in which the control's load generator
	// was saturated.
	SaturatedIn []string
}

// readingOf decides how the runs of cmp are compared.
func (cmp comparison) readingOf() reading {
	a, b := cmp.a.run.Control, cmp.b.run.Control
	switch {
	case a == nil && b == nil:
		return reading{Why: "Neither run has a drift control"}
	case a == nil:
		return reading{Why: "Only run B has a drift control"}
	case b == nil:
		return reading{Why: "Only run A has a drift control"}
	case a.Spec != b.Spec:
		return reading{Why: fmt.Sprintf("The runs' drift controls are not the same cell (%s in A, %s in B, or the same server under another load)", a.name(), b.name())}
	}
	rd := reading{Relative: true, Control: a.name()}
	for _, x := range cmp.sides() {
		ctl := x.a.run.Control.Cell
		if len(ctl.countedReps()) == 0 {
			return reading{Why: "Run " + x.label + "'s drift control has no counted measurement"}
		}
		if slices.ContainsFunc(ctl.countedReps(), func(r *rep) bool { return r.Saturated }) {
			rd.SaturatedIn = append(rd.SaturatedIn, x.label)
		}
	}
	for _, m := range controlMeasures {
		rd.ControlChange = append(rd.ControlChange, compareEstimates(estimateOf(m.sample(a.Cell.countedReps())), estimateOf(m.sample(b.Cell.countedReps()))))
	}
	return rd
}

// relativeSample divides m of each counted repetition of c by m of the
// run's counted control measurement nearest to it in time (the earlier
// one when two are as near).
func relativeSample(r *run, c *cell, m measure) []float64 {
	ctl := r.Control.Cell.countedReps()
	var out []float64
	for _, rp := range c.countedReps() {
		v := m.perRep(rp)
		var near *rep
		var gap time.Duration
		for _, cr := range ctl {
			if math.IsNaN(m.perRep(cr)) {
				continue
			}
			if d := (rp.Started.Sub(cr.Started)).Abs(); near == nil || d < gap {
				near, gap = cr, d
			}
		}
		if near == nil || math.IsNaN(v) {
			continue
		}
		out = append(out, v/m.perRep(near))
	}
	return out
}

// relativeChange compares the pair on m relative to each run's control,
// with the rule of the raw comparison for a client-saturated cell.
func (cmp comparison) relativeChange(p cellPair, m measure) field {
	if f, ok := p.untested(m); ok {
		return f
	}
	a := estimateOf(relativeSample(cmp.a.run, p.A.Cell, m))
	b := estimateOf(relativeSample(cmp.b.run, p.B.Cell, m))
	return m.diffField(compareEstimates(a, b))
}

// relativeTable has a row per cell: on each of controlMeasures the change
// relative to the control, the raw change, and the control's own change
// beside them.
func (cmp comparison) relativeTable(rd reading) table {
	var cols []column
	for _, m := range controlMeasures {
		cols = append(cols,
			diffColumn(m.Title+" change ÷ control", m.Key+"_relative_change", "B against A, every repetition divided by its run's control measurement nearest in time"),
			diffColumn(m.Title+" change, raw", m.Key+"_change", "B against A, as measured"),
			diffColumn("control's "+m.Title+" change", "control_"+m.Key+"_change", "the control's own change, B against A: the machine's"))
	}
	return cmp.pairTable(cols, func(p cellPair) []field {
		var row []field
		for i, m := range controlMeasures {
			row = append(row, cmp.relativeChange(p, m), p.change(m), m.diffField(rd.ControlChange[i]))
		}
		return row
	})
}

// text is the sentence that says which reading the comparison used.
func (rd reading) text() string {
	if !rd.Relative {
		return "Reading: as measured. " + rd.Why + ", so a difference between the runs can be the machine's, not the servers': " +
			"the same configuration run twice a minute apart on one quiet machine differed by +19% and +22% (issue #10). " +
			"With a `control:` in both runs' configuration, `sockbench report A B` compares every cell relative to it."
	}
	var changes []string
	for i, m := range controlMeasures {
		changes = append(changes, m.Title+" "+rd.ControlChange[i].String())
	}
	s := "Reading: relative to the drift control. Both runs measured the same control (" + rd.Control + ") through the run; " +
		"every counted repetition of a cell is divided by its run's counted control measurement nearest to it in time (by start time), " +
		"and the rank test is made on those ratios, so a change of the whole machine between the runs, which moves the control as much as the cells, cancels out. " +
		"The control itself changed by: " + strings.Join(changes, "; ") + ". " +
		"Requests/s of a client-saturated cell are still not compared."
	if len(rd.SaturatedIn) > 0 {
		s += " The control's own load generator was saturated in run " + strings.Join(rd.SaturatedIn, " and ") +
			": its requests/s there are the client's speed, which moves with the machine as the servers' does, so they still serve as its yardstick."
	}
	return s
}

// rawNote is the sentence under the comparison as measured.
func (rd reading) rawNote() string {
	if rd.Relative {
		return "These are the numbers as measured, the machine's change between the runs included; the reading above, relative to the drift control, is the one to quote."
	}
	return rd.text()
}
