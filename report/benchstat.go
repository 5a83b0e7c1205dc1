package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
)

// writeBenchstat writes every repetition that counts (successful, on a
// quiet machine) as one line of Go's benchmark format, so `benchstat`
// computes its own statistics over the repetitions and can compare two
// runs (or, with -col /server, the servers of one run).
//
// Names carry every axis of the cell, not only the varying ones, so the
// same cell has the same name in two runs that swept different axes.
// Latencies and server CPU per request are written in ns with an "-ns"
// unit, which benchstat rescales to seconds and prints with µ/m prefixes.
func writeBenchstat(w io.Writer, r *run) error {
	var b strings.Builder
	b.WriteString("goos: linux\n")
	for _, kv := range r.Machine {
		switch kv.Key {
		case "arch":
			fmt.Fprintf(&b, "goarch: %s\n", oneLine(kv.Value))
		case "CPU model":
			fmt.Fprintf(&b, "cpu: %s\n", oneLine(kv.Value))
		}
	}
	b.WriteString("pkg: github.com/sockbench/sockbench\n")
	b.WriteString("Unit req/s better=higher\n")
	b.WriteString("Unit p50-ns better=lower\n")
	b.WriteString("Unit p99-ns better=lower\n")
	b.WriteString("Unit cpu-ns/req better=lower\n")
	for _, c := range r.sortedCells() {
		name := benchName(r, c)
		for _, rp := range c.Reps {
			if !rp.Counts {
				continue
			}
			fmt.Fprintf(&b, "%s\t1\t%.1f req/s", name, rp.RPS)
			if rp.Hist != nil && rp.Hist.TotalCount() > 0 {
				fmt.Fprintf(&b, "\t%d p50-ns\t%d p99-ns", rp.Hist.ValueAtPercentile(50)*1000, rp.Hist.ValueAtPercentile(99)*1000)
			}
			if cpu := rp.CPUUserUS + rp.CPUSysUS; !math.IsNaN(cpu) {
				fmt.Fprintf(&b, "\t%.1f cpu-ns/req", cpu*1000)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// benchName builds "BenchmarkCell/server=epoll/keep_alive=true": the server
// first, then the other axes in configuration order.
func benchName(r *run, c *cell) string {
	var b strings.Builder
	b.WriteString("BenchmarkCell/" + serverAxis + "=" + benchToken(c.server()))
	for _, a := range r.Axes {
		if a == serverAxis {
			continue
		}
		if v, ok := c.Axes[a]; ok {
			b.WriteString("/" + benchToken(a) + "=" + benchToken(v))
		}
	}
	return b.String()
}

// benchToken keeps a name part within what the benchmark format allows: no
// spaces (they end the name), no "/" (it separates parts), no "=" inside a
// key or value, and no trailing "-N" which would read as GOMAXPROCS.
func benchToken(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r), r == '/', r == '=':
			return '_'
		}
		return r
	}, s)
	if s == "" {
		return "_"
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 && i < len(s)-1 && strings.Trim(s[i+1:], "0123456789") == "" {
		s += "_"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
