package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// summary is everything the tables say about one cell, computed from its
// repetitions.
type summary struct {
	Cell     *cell
	RPS      estimate
	MBps     estimate
	OK       int
	Failed   int
	Requests int64
	Errors   int64
	// ErrorKinds sums errors by kind over the successful repetitions.
	ErrorKinds map[string]int64
	// Latency is the merged histogram of every successful repetition, so its
	// percentiles weigh each request once; nil when no repetition has one.
	Latency     *hdrhistogram.Histogram
	LatencyKind string
	// P50 and P99 are each repetition's own percentiles (µs), the samples
	// the comparisons test; the merged histogram above weighs requests,
	// these weigh repetitions.
	P50, P99 estimate
	CPUUser  estimate
	CPUSys   estimate
	// CPU is user plus system per request, repetition by repetition.
	CPU       estimate
	Syscalls  estimate
	Accepts   estimate
	Saturated bool
}

func summarise(c *cell) (summary, error) {
	s := summary{Cell: c, ErrorKinds: map[string]int64{}}
	var rps, mbps, user, sys, cpu, p50, p99, sc, apw []float64
	var kinds []string
	for _, r := range c.Reps {
		if !r.OK {
			s.Failed++
			continue
		}
		s.OK++
		rps = append(rps, r.RPS)
		mbps = append(mbps, r.BytesPerS/1e6)
		user = append(user, r.CPUUserUS)
		sys = append(sys, r.CPUSysUS)
		cpu = append(cpu, r.CPUUserUS+r.CPUSysUS)
		sc = append(sc, r.SyscallsPerReq)
		apw = append(apw, r.AcceptsPerWakeup)
		s.Requests += r.Requests
		s.Errors += r.Errors
		for k, n := range r.ErrorKinds {
			s.ErrorKinds[k] += n
		}
		s.Saturated = s.Saturated || r.Saturated
		if r.LatencyKind != "" && !slices.Contains(kinds, r.LatencyKind) {
			kinds = append(kinds, r.LatencyKind)
		}
		if r.Hist == nil || r.Hist.TotalCount() == 0 {
			continue
		}
		p50 = append(p50, float64(r.Hist.ValueAtPercentile(50)))
		p99 = append(p99, float64(r.Hist.ValueAtPercentile(99)))
		if s.Latency == nil {
			s.Latency = r.Hist.Clone()
			continue
		}
		if dropped := s.Latency.Merge(r.Hist); dropped > 0 {
			return s, fmt.Errorf("cell %s: merging the latency histogram of repetition %d dropped %d values (histograms of different ranges)", c.ID, r.Index, dropped)
		}
	}
	s.RPS = estimateOf(rps)
	s.MBps = estimateOf(mbps)
	s.P50, s.P99 = estimateOf(p50), estimateOf(p99)
	s.CPUUser = estimateOf(user)
	s.CPUSys = estimateOf(sys)
	s.CPU = estimateOf(cpu)
	s.Syscalls = estimateOf(sc)
	s.Accepts = estimateOf(apw)
	slices.Sort(kinds)
	s.LatencyKind = strings.Join(kinds, "+")
	return s, nil
}

// percentileUS returns the latency at percentile p (0–100) in µs, NaN
// without a histogram.
func (s summary) percentileUS(p float64) float64 {
	if s.Latency == nil || s.Latency.TotalCount() == 0 {
		return math.NaN()
	}
	if p >= 100 {
		return float64(s.Latency.Max())
	}
	return float64(s.Latency.ValueAtPercentile(p))
}

const flagSaturated = "client saturated"

// flags are the warnings a row carries; a result with any of them should
// not be quoted without reading why.
func (s summary) flags() []string {
	var f []string
	if s.OK == 0 {
		f = append(f, "no data")
	}
	if s.Failed > 0 {
		f = append(f, fmt.Sprintf("%d/%d reps failed", s.Failed, s.OK+s.Failed))
	}
	if s.Saturated {
		f = append(f, flagSaturated)
	}
	if s.Errors > 0 {
		f = append(f, "errors")
	}
	return f
}

// disqualifiers are the flags that keep a cell out of a ranking: every
// flag but saturation, whose cells are ranked by what the client cannot
// change.
func (s summary) disqualifiers() []string {
	return slices.DeleteFunc(s.flags(), func(f string) bool { return f == flagSaturated })
}

// errorKindsText lists error counts by kind, largest first, for tooltips
// and the warnings list.
func (s summary) errorKindsText() string {
	kinds := make([]string, 0, len(s.ErrorKinds))
	for k, n := range s.ErrorKinds {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.ErrorKinds[b], s.ErrorKinds[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, s.ErrorKinds[k])
	}
	return strings.Join(parts, ", ")
}

func summariseAll(cells []*cell) ([]summary, error) {
	out := make([]summary, len(cells))
	for i, c := range cells {
		s, err := summarise(c)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
