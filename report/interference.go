package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// interference is a repetition's interference check as the report shows
// it: how much of the server's and the load generator's CPUs went to
// anything but them during the window.
type interference struct {
	Sets []cpuSetLoad // the server's, then the load generator's
	// Max is the threshold; Busy says a set's other work and steal passed
	// it, so the repetition does not count.
	Max      float64
	Busy     bool
	Attempts int
	// Earlier are the worst shares of the busy measurements thrown away
	// and taken again.
	Earlier []float64
}

type cpuSetLoad struct {
	Role, CPUs               string
	Other, Steal, Interrupts float64
}

// worst is the larger of the two sets' other work plus steal: what the
// threshold is held against.
func (m *interference) worst() float64 {
	w := 0.0
	for _, s := range m.Sets {
		w = max(w, s.Other+s.Steal)
	}
	return w
}

// steal is the larger of the two sets' steal.
func (m *interference) steal() float64 {
	w := 0.0
	for _, s := range m.Sets {
		w = max(w, s.Steal)
	}
	return w
}

// hasInterference says whether any repetition of the run, the control's
// included, carries an interference check.
func (r *run) hasInterference() bool {
	for _, c := range r.allCells() {
		for _, rp := range c.Reps {
			if rp.Machine != nil {
				return true
			}
		}
	}
	return false
}

// allCells are the matrix's cells in table order, then the control's.
func (r *run) allCells() []*cell {
	cells := r.sortedCells()
	if r.Control != nil {
		cells = append(cells, r.Control.Cell)
	}
	return cells
}

// fmtShare writes a share (0–1) as a percentage with one decimal.
func fmtShare(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

// interferenceTable has a row per cell (the control last) and a column per
// repetition: the worst set's other work plus steal, steal alone, and the
// attempts when a busy window was measured again.
func interferenceTable(r *run) table {
	axes := r.varyingAxes()
	var t table
	for _, a := range axes {
		t.Columns = append(t.Columns, column{Title: a, CSV: []string{a}})
	}
	cells := r.allCells()
	reps := 0
	for _, c := range cells {
		for _, rp := range c.Reps {
			reps = max(reps, rp.Index)
		}
	}
	for i := 1; i <= reps; i++ {
		t.Columns = append(t.Columns, column{Title: "rep " + strconv.Itoa(i), CSV: []string{"rep_" + strconv.Itoa(i)}, Numeric: true,
			Help: "other work + steal on the busier of the two CPU sets, steal alone in brackets; ×2: measured twice"})
	}
	for _, c := range cells {
		var row []field
		for i, a := range axes {
			v := c.Axes[a]
			switch {
			case c == r.controlCell() && i == 0:
				v += " (control)"
			case c == r.controlCell():
				v = ""
			}
			row = append(row, textField(v))
		}
		byIndex := map[int]*rep{}
		for _, rp := range c.Reps {
			byIndex[rp.Index] = rp
		}
		for i := 1; i <= reps; i++ {
			row = append(row, interferenceField(byIndex[i]))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// controlCell is the control's cell, nil without one.
func (r *run) controlCell() *cell {
	if r.Control == nil {
		return nil
	}
	return r.Control.Cell
}

// interferenceField is one repetition's check: "0.8% (0.0%)", "busy 7.1%
// (0.2%)" — other work and steal, then steal — with "×2" when it was
// measured twice.
func interferenceField(rp *rep) field {
	switch {
	case rp == nil:
		return field{Text: "", CSV: []string{""}}
	case rp.Machine == nil && !rp.OK:
		return field{Text: "failed", CSV: []string{"failed"}, Tip: rp.Reason}
	case rp.Machine == nil:
		return field{Text: missing, CSV: []string{""}, Tip: "not checked"}
	}
	m := rp.Machine
	text := fmtShare(m.worst()) + " (" + fmtShare(m.steal()) + ")"
	if m.Busy {
		text = "busy " + text
	}
	if m.Attempts > 1 {
		text += " ×" + strconv.Itoa(m.Attempts)
	}
	if !rp.OK {
		text += " failed"
	}
	return field{Text: text, CSV: []string{csvFloat(100*m.worst(), 2)}, Warn: m.Busy, Tip: interferenceTip(rp)}
}

// interferenceTip spells the check out set by set, for the tooltip.
func interferenceTip(rp *rep) string {
	m := rp.Machine
	var parts []string
	if !rp.Started.IsZero() {
		parts = append(parts, "started "+rp.Started.UTC().Format(time.TimeOnly))
	}
	for _, s := range m.Sets {
		parts = append(parts, fmt.Sprintf("%s CPUs %s: other %s, steal %s, irq+softirq %s (not counted)", s.Role, s.CPUs, fmtShare(s.Other), fmtShare(s.Steal), fmtShare(s.Interrupts)))
	}
	parts = append(parts, "threshold "+fmtShare(m.Max))
	if len(m.Earlier) > 0 {
		var e []string
		for _, w := range m.Earlier {
			e = append(e, fmtShare(w))
		}
		parts = append(parts, "thrown away as busy before: "+strings.Join(e, ", "))
	}
	if !rp.OK {
		parts = append(parts, "failed: "+rp.Reason)
	}
	return strings.Join(parts, "; ")
}

// interferenceCSVTable has a row per repetition with every number of its
// check, for a spreadsheet.
func interferenceCSVTable(r *run) table {
	t := table{Columns: []column{{Title: "cell", CSV: []string{"cell"}}}}
	axes := r.varyingAxes()
	for _, a := range axes {
		t.Columns = append(t.Columns, column{Title: a, CSV: []string{a}})
	}
	t.Columns = append(t.Columns, column{Title: "repetition", CSV: []string{
		"control", "rep", "started", "status",
		"server_cpus", "server_other_pct", "server_steal_pct", "server_interrupts_pct",
		"load_cpus", "load_other_pct", "load_steal_pct", "load_interrupts_pct",
		"worst_pct", "max_pct", "busy", "attempts", "earlier_worst_pct", "counted",
	}})
	for _, c := range r.allCells() {
		for _, rp := range c.Reps {
			row := []field{textField(c.ID)}
			for _, a := range axes {
				row = append(row, textField(c.Axes[a]))
			}
			status := "ok"
			if !rp.OK {
				status = "failed"
			}
			started := ""
			if !rp.Started.IsZero() {
				started = rp.Started.UTC().Format(time.RFC3339Nano)
			}
			csv := []string{strconv.FormatBool(c == r.controlCell()), strconv.Itoa(rp.Index), started, status}
			if m := rp.Machine; m != nil {
				for _, s := range m.Sets {
					csv = append(csv, s.CPUs, csvFloat(100*s.Other, 2), csvFloat(100*s.Steal, 2), csvFloat(100*s.Interrupts, 2))
				}
				var earlier []string
				for _, w := range m.Earlier {
					earlier = append(earlier, csvFloat(100*w, 2))
				}
				csv = append(csv, csvFloat(100*m.worst(), 2), csvFloat(100*m.Max, 2), strconv.FormatBool(m.Busy), strconv.Itoa(m.Attempts), strings.Join(earlier, " "))
			} else {
				csv = append(csv, make([]string, 13)...)
			}
			csv = append(csv, strconv.FormatBool(rp.Counts))
			row = append(row, field{CSV: csv})
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

// interferenceNote says how to read the interference table.
func interferenceNote(r *run) string {
	return fmt.Sprintf("Around every measured window the runner checks what else used the server's and the load generator's CPUs: "+
		"other processes and the hypervisor's steal, as a share of each set's time. Each entry is the busier set's share, steal alone in brackets "+
		"(the tooltip has both sets and their irq and softirq time, shown but not counted: on loopback it is mostly the workload's own packets). "+
		"Above %s a repetition is \"busy\": it is left out of its cell's numbers, never ranked or compared, and a cell with no quiet repetition is not ranked. "+
		"\"×2\" means a busy window was thrown away and measured again, as the plan's interference.retries allows.", fmtShare(r.InterferenceMax))
}
