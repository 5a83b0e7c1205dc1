package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/ranktest"
)

// loadgenResults is everything the rounds measured, for the tables.
type loadgenResults struct {
	all      []contestant
	cells    map[string]map[int]generatorCell
	skipped  map[string]error
	failures map[string][]string
	rounds   int
	duration time.Duration
}

// write prints one table per kind of row that was asked for, each with the
// sentence that says how to read it.
func (res loadgenResults) write(w io.Writer) error {
	sections := []struct {
		kind, intro string
		table       func([]contestant) *table
	}{
		{unpaced, "Unpaced, each generator as fast as it can. nginx (one worker, one core) is the limit, so req/s is the\n" +
			"server's and much the same for all: the generators differ in what they spend on a request.", res.unpacedTable},
		{race, "Race: pipelined, so that nginx answers many requests per read and has more to give than a generator can\n" +
			"ask: req/s is the generators' own (check generator CPU near 100%).", res.raceTable},
		{paced, "Paced (--rate; wrk2's model, latency from when each request was due): generator CPU per request against\n" +
			"wrk2's in the same round. \"answered\" is of the rate × duration asked for; p50 as each reports it.", res.pacedTable},
	}
	first := true
	for _, s := range sections {
		var rows []contestant
		for _, ct := range res.all {
			if ct.kind == s.kind {
				rows = append(rows, ct)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		fmt.Fprintln(w, s.intro)
		fmt.Fprintln(w)
		if err := s.table(rows).write(w); err != nil {
			return err
		}
	}
	return nil
}

// perRequest is the contestant's own CPU per request in a round, NaN if
// the round has no cell for it.
func (res loadgenResults) perRequest(row string, round int) float64 {
	cell, ok := res.cells[row][round]
	if !ok {
		return math.NaN()
	}
	return perRequestMicros(cell.generator.CPU().Seconds(), cell.requests)
}

// figures are one row's medians over the rounds; vs is against the
// baseline row in the same round, test the rank test against the
// baseline's rounds on the table's measure ("–" for the baseline).
type figures struct {
	rps, total, vs, user, sys, util, server, requests, p50 ranktest.Sample
	errRounds                                              int
	test                                                   string
}

func (res loadgenResults) figures(row, baseline string) figures {
	var rps, total, vs, user, sys, util, srv, requests, p50 []float64
	errRounds := 0
	for round := 1; round <= res.rounds; round++ {
		cell, ok := res.cells[row][round]
		if !ok {
			continue
		}
		rps = append(rps, cell.rps)
		total = append(total, res.perRequest(row, round))
		vs = append(vs, ratio(res.perRequest(row, round), res.perRequest(baseline, round)))
		user = append(user, perRequestMicros(cell.generator.User.Seconds(), cell.requests))
		sys = append(sys, perRequestMicros(cell.generator.System.Seconds(), cell.requests))
		util = append(util, cell.generator.Utilization())
		srv = append(srv, perRequestMicros(cell.server.CPU().Seconds(), cell.requests))
		requests = append(requests, float64(cell.requests))
		if cell.p50US > 0 {
			p50 = append(p50, cell.p50US)
		}
		if len(cell.errors) > 0 {
			errRounds++
		}
	}
	of := ranktest.NewSample
	return figures{rps: of(rps), total: of(total), vs: of(vs), user: of(user), sys: of(sys),
		util: of(util), server: of(srv), requests: of(requests), p50: of(p50), errRounds: errRounds, test: "–"}
}

// notes says what went wrong with a row.
func (res loadgenResults) notes(row string, f figures) string {
	var notes []string
	if f.errRounds > 0 {
		notes = append(notes, fmt.Sprintf("ERRORS in %d rounds", f.errRounds))
	}
	if n := len(res.failures[row]); n > 0 {
		notes = append(notes, fmt.Sprintf("%d rounds failed (below)", n))
	}
	return strings.Join(notes, "; ")
}

// unpacedTable leads with CPU per request: nginx set the req/s.
func (res loadgenResults) unpacedTable(rows []contestant) *table {
	return res.generatorTable(rows, false, func(contestant) string { return "wrk" })
}

// raceTable leads with req/s: the generators set it.
func (res loadgenResults) raceTable(rows []contestant) *table {
	return res.generatorTable(rows, true, func(ct contestant) string { return "wrk, depth " + strconv.Itoa(ct.depth) })
}

// generatorTable has a row per contestant, compared with its baseline's
// cell in the same round; rateFirst puts req/s and its range first, and
// makes req/s the measure the rank test compares with the baseline's
// (otherwise the generator's CPU per request).
func (res loadgenResults) generatorTable(rows []contestant, rateFirst bool, baseline func(contestant) string) *table {
	type column struct {
		head  string
		value func(figures) string
	}
	rate := []column{
		{"req/s", func(f figures) string { return fmtRate(f.rps.Median) }},
		{"min–max", func(f figures) string { return fmtRange(f.rps) }},
	}
	// The test's column names its measure: in a race it is not the CPU
	// ratio beside it.
	measure, tested := func(f figures) ranktest.Sample { return f.total }, "µs/req"
	if rateFirst {
		measure, tested = func(f figures) ranktest.Sample { return f.rps }, "req/s"
	}
	cols := []column{
		{"total µs/req", func(f figures) string { return fmtMicros(f.total.Median) }},
		{"µs/req vs wrk", func(f figures) string { return fmtRatio(f.vs.Median) }},
		{tested + " test vs wrk", func(f figures) string { return f.test }},
		{"user µs/req", func(f figures) string { return fmtMicros(f.user.Median) }},
		{"sys µs/req", func(f figures) string { return fmtMicros(f.sys.Median) }},
		{"generator CPU", func(f figures) string { return fmtPercent(f.util.Median) }},
	}
	if rateFirst {
		cols = append(rate, cols...)
	} else {
		cols = append(cols, rate...)
	}
	cols = append(cols, column{"nginx µs/req", func(f figures) string { return fmtMicros(f.server.Median) }})
	t := &table{header: []string{"generator"}}
	for _, c := range cols {
		t.header = append(t.header, c.head)
	}
	t.header = append(t.header, "notes")
	for _, ct := range rows {
		row := []string{ct.row}
		if res.skipped[ct.row] != nil {
			for range cols {
				row = append(row, "–")
			}
			t.add(append(row, "skipped (below)")...)
			continue
		}
		f := res.figures(ct.row, baseline(ct))
		// The baseline's own row has nothing to be tested against.
		if ct.row != baseline(ct) {
			f.test = fmtTest(measure(res.figures(baseline(ct), baseline(ct))), measure(f))
		}
		for _, c := range cols {
			row = append(row, c.value(f))
		}
		t.add(append(row, res.notes(ct.row, f))...)
	}
	return t
}

func (res loadgenResults) pacedTable(rows []contestant) *table {
	t := &table{header: []string{"rate", "generator", "total µs/req", "vs wrk2", "test vs wrk2", "user µs/req", "sys µs/req", "answered", "p50", "generator CPU", "notes"}}
	for _, ct := range rows {
		rate := fmtRate(ct.rate)
		if err := res.skipped[ct.row]; err != nil {
			t.add(rate, ct.gen, "–", "–", "–", "–", "–", "–", "–", "–", "skipped (below)")
			continue
		}
		wrk2 := "wrk2 -R" + strconv.FormatFloat(ct.rate, 'f', -1, 64)
		f := res.figures(ct.row, wrk2)
		vs, test := "–", "–"
		if ct.gen != "wrk2" {
			vs = fmtRatio(f.vs.Median)
			test = fmtTest(res.figures(wrk2, wrk2).total, f.total)
		}
		answered := "–"
		if asked := ct.rate * wrkSeconds(res.duration).Seconds(); f.requests.N() > 0 && ct.gen == "wrk2" {
			answered = fmt.Sprintf("%.0f (%.1f%%)", f.requests.Median, 100*f.requests.Median/asked)
		} else if f.requests.N() > 0 {
			asked = ct.rate * res.duration.Seconds()
			answered = fmt.Sprintf("%.0f (%.1f%%)", f.requests.Median, 100*f.requests.Median/asked)
		}
		t.add(rate, ct.gen, fmtMicros(f.total.Median), vs, test, fmtMicros(f.user.Median), fmtMicros(f.sys.Median),
			answered, fmtLatency(f.p50.Median), fmtPercent(f.util.Median), res.notes(ct.row, f))
	}
	return t
}

// fmtLatency prints µs as wrk does: µs below a millisecond, ms above.
func fmtLatency(us float64) string {
	switch {
	case math.IsNaN(us):
		return "–"
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	}
	return fmt.Sprintf("%.2fms", us/1000)
}
