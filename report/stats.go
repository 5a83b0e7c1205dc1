package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	spreadpkg "github.com/sockbench/sockbench/internal/spread"
)

// spread is a median with the range over repetitions it came from: how
// the tables quote repetitions.
type spread = spreadpkg.Spread

// summary is everything the tables say about one cell, computed from its
// repetitions.
type summary struct {
	Cell     *cell
	RPS      spread
	MBps     spread
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
	CPUUser     spread
	CPUSys      spread
	Syscalls    spread
	Accepts     spread
	Saturated   bool
}

func summarise(c *cell) (summary, error) {
	s := summary{Cell: c, ErrorKinds: map[string]int64{}}
	var rps, mbps, user, sys, sc, apw []float64
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
		if r.Hist == nil {
			continue
		}
		if s.Latency == nil {
			s.Latency = r.Hist.Clone()
			continue
		}
		if dropped := s.Latency.Merge(r.Hist); dropped > 0 {
			return s, fmt.Errorf("cell %s: merging the latency histogram of repetition %d dropped %d values (histograms of different ranges)", c.ID, r.Index, dropped)
		}
	}
	s.RPS = spreadpkg.Of(rps)
	s.MBps = spreadpkg.Of(mbps)
	s.CPUUser = spreadpkg.Of(user)
	s.CPUSys = spreadpkg.Of(sys)
	s.Syscalls = spreadpkg.Of(sc)
	s.Accepts = spreadpkg.Of(apw)
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
		f = append(f, "client saturated")
	}
	if s.Errors > 0 {
		f = append(f, "errors")
	}
	return f
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
