package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/sockbench/sockbench/runner/results"
)

// ranking orders the servers of one group: the cells that agree on every
// other axis.
type ranking struct {
	Group group
	// By is the measure the order follows: requests/s, or server CPU per
	// request when the load generator was saturated in a ranked cell.
	By measure
	// Entries holds the ranked cells in order, then those left out.
	Entries []rankEntry
}

type rankEntry struct {
	Sum  summary
	Rank int // from 1; 0 for a cell left out
	// Out says why a cell is not ranked: a flag the run itself raised on
	// its numbers, or the missing measure.
	Out string
}

// rankGroup ranks the servers of g. A cell whose repetitions failed or
// whose requests failed is left out: the run flagged its numbers; so is
// one with no repetition measured on a quiet machine (busy ones never
// count). What the group is ranked by is package results' rule, the one
// the runner's adaptive rounds use too, applied to the group: where the
// load generator was saturated in a ranked cell, that cell's requests/s
// measure the client, so the whole group is ranked by server CPU per
// request, which does not depend on the client.
func rankGroup(g group, byCell map[*cell]summary) ranking {
	var in, out []rankEntry
	saturated := false
	for _, c := range g.Cells {
		s := byCell[c]
		if bad := s.disqualifiers(); len(bad) > 0 {
			out = append(out, rankEntry{Sum: s, Out: strings.Join(bad, ", ")})
			continue
		}
		in = append(in, rankEntry{Sum: s})
		saturated = saturated || s.Saturated
	}
	r := ranking{Group: g, By: rankMeasure(results.RankedBy(g.Cells[0].Mode, saturated))}
	// Only in stream mode is the measure still the client's where it was
	// saturated: there is nothing per request to rank by instead.
	in = slices.DeleteFunc(in, func(e rankEntry) bool {
		if !r.By.ClientBound || !e.Sum.Saturated {
			return false
		}
		out = append(out, rankEntry{Sum: e.Sum, Out: flagSaturated + ": its " + r.By.Name + " are the client's"})
		return true
	})
	in = slices.DeleteFunc(in, func(e rankEntry) bool {
		if r.By.of(e.Sum).Known() {
			return false
		}
		out = append(out, rankEntry{Sum: e.Sum, Out: r.By.Title + " not measured"})
		return true
	})
	slices.SortFunc(in, func(a, b rankEntry) int {
		x, y := r.By.of(a.Sum).Center, r.By.of(b.Sum).Center
		switch {
		case r.By.better(x, y):
			return -1
		case r.By.better(y, x):
			return 1
		}
		return strings.Compare(a.Sum.Cell.server(), b.Sum.Cell.server())
	})
	for i := range in {
		// Equal medians share a place: the order among them would be the
		// servers' names.
		in[i].Rank = i + 1
		if i > 0 && r.By.of(in[i].Sum).Center == r.By.of(in[i-1].Sum).Center {
			in[i].Rank = in[i-1].Rank
		}
	}
	slices.SortStableFunc(out, func(a, b rankEntry) int { return cmp.Compare(a.Sum.Cell.server(), b.Sum.Cell.server()) })
	r.Entries = append(in, out...)
	return r
}

// versusFirst compares an entry with the group's #1 on measure m.
func (r ranking) versusFirst(e rankEntry, m measure) field {
	first := r.Entries[0]
	switch {
	case e.Rank == 0:
		return untestedField(missing, "not ranked")
	case e.Sum.Cell == first.Sum.Cell:
		return untestedField("#1", "first")
	case m.ClientBound && (e.Sum.Saturated || first.Sum.Saturated):
		return untestedField("not compared: client saturated", "client saturated")
	}
	return m.diffField(compareEstimates(m.of(first.Sum), m.of(e.Sum)))
}

// note is the sentence under the group's table: what it is ranked by and
// which cells it leaves out, and why.
func (r ranking) note() string {
	var b strings.Builder
	if r.By.Key == measureCPU.Key {
		var sat []string
		for _, e := range r.Entries {
			if e.Rank > 0 && e.Sum.Saturated {
				sat = append(sat, e.Sum.Cell.server())
			}
		}
		b.WriteString("The load generator was saturated in " + joinAnd(sat) + ": requests/s there measure the client, not the server, " +
			"so this group is ranked by server CPU µs per request (lowest first), which holds whatever the client did. " +
			"Requests/s and latency are not compared with a cell the client could not keep up with.")
	} else {
		b.WriteString("Ranked by median " + r.By.Name + " (highest first).")
	}
	var out []string
	for _, e := range r.Entries {
		if e.Rank == 0 {
			out = append(out, e.Sum.Cell.server()+" ("+e.Out+")")
		}
	}
	if len(out) > 0 {
		b.WriteString(" Not ranked, because the run flagged their numbers: " + joinAnd(out) + ".")
	}
	return b.String()
}

// rankingNote heads the rankings.
const rankingNote = "Within each group the cells differ only in the server; every server is compared with the group's #1 " +
	"on each measure, by the test the results explain. A cell with failed repetitions or failed requests is not ranked, " +
	"nor one with no repetition measured on a quiet machine; repetitions measured on a busy machine are left out of every number. " +
	"A group in which the load generator was saturated is ranked by server CPU per request, a stream-mode group by MB/s."

// table renders the ranking; withGroup adds the group's axis values and
// the measure ranked by as leading columns, for the one CSV file of all
// groups.
func (r ranking) table(withGroup bool) table {
	var t table
	if withGroup {
		for _, kv := range r.Group.Fixed {
			t.Columns = append(t.Columns, column{Title: kv.Key, CSV: []string{kv.Key}})
		}
		t.Columns = append(t.Columns, column{Title: "ranked by", CSV: []string{"ranked_by"}})
	}
	t.Columns = append(t.Columns,
		column{Title: "rank", CSV: []string{"rank"}, Numeric: true, Help: "by " + r.By.Title},
		column{Title: "server", CSV: []string{"server"}},
	)
	for _, m := range testedMeasures {
		t.Columns = append(t.Columns, m.valueColumn(m.Title, m.Key), diffColumn(m.Title+" vs #1", m.Key+"_vs_first", "this server against the group's #1"))
	}
	t.Columns = append(t.Columns,
		repsColumn,
		column{Title: "flags", CSV: []string{"flags"}},
	)
	for _, e := range r.Entries {
		var row []field
		if withGroup {
			for _, kv := range r.Group.Fixed {
				row = append(row, textField(kv.Value))
			}
			row = append(row, textField(r.By.Key))
		}
		rank := field{Text: missing, CSV: []string{""}, Tip: "not ranked: " + e.Out}
		if e.Rank > 0 {
			rank = textField(strconv.Itoa(e.Rank))
		}
		row = append(row, rank, textField(e.Sum.Cell.server()))
		for _, m := range testedMeasures {
			row = append(row, m.field(m.of(e.Sum)), r.versusFirst(e, m))
		}
		row = append(row, repsField(e.Sum), flagsField(e.Sum))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// rankingCSVTable joins every group's ranking into one table.
func rankingCSVTable(rs []ranking) table {
	var all table
	for _, r := range rs {
		t := r.table(true)
		all.Columns = t.Columns
		all.Rows = append(all.Rows, t.Rows...)
	}
	return all
}

// joinAnd lists names as a sentence does: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
