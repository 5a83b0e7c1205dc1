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
	Cell *cell
	RPS  estimate
	MBps estimate
	// OK counts the repetitions that count (successful, on a quiet
	// machine): every number of the summary is theirs. Busy counts the
	// successful ones left out because the machine was busy, Failed the
	// failed ones.
	OK, Busy, Failed int
	Requests         int64
	Errors           int64
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
	CPU      estimate
	Syscalls estimate
	Accepts  estimate
	// ServerCloses is server closes per request; Jain, MinShare and
	// MaxShare the fairness between connections.
	ServerCloses, Jain, MinShare, MaxShare estimate
	Saturated                              bool
	// LowestShare is the smallest share of the mean requests an agent
	// sent in a repetition (1 without agents), LowestAgent that agent.
	LowestShare float64
	LowestAgent string
}

func summarise(c *cell) (summary, error) {
	s := summary{Cell: c, ErrorKinds: map[string]int64{}, LowestShare: 1}
	var user, sys, sc, apw, closes, jain, minShare, maxShare []float64
	var kinds []string
	for _, r := range c.Reps {
		switch {
		case !r.OK:
			s.Failed++
			continue
		case !r.Counts:
			s.Busy++
			continue
		}
		s.OK++
		user = append(user, r.CPUUserUS)
		sys = append(sys, r.CPUSysUS)
		sc = append(sc, r.SyscallsPerReq)
		apw = append(apw, r.AcceptsPerWakeup)
		closes = append(closes, r.ServerClosesPerReq)
		jain = append(jain, r.Jain)
		minShare = append(minShare, r.MinShare)
		maxShare = append(maxShare, r.MaxShare)
		s.Requests += r.Requests
		s.Errors += r.Errors
		for k, n := range r.ErrorKinds {
			s.ErrorKinds[k] += n
		}
		s.Saturated = s.Saturated || r.Saturated
		if low, who := lowestShare(r.Agents); low < s.LowestShare {
			s.LowestShare, s.LowestAgent = low, who
		}
		if r.LatencyKind != "" && !slices.Contains(kinds, r.LatencyKind) {
			kinds = append(kinds, r.LatencyKind)
		}
		if r.Hist == nil || r.Hist.TotalCount() == 0 {
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
	counted := c.countedReps()
	s.RPS = estimateOf(measureRPS.sample(counted))
	s.MBps = estimateOf(measureMBps.sample(counted))
	s.P50, s.P99 = estimateOf(measureP50.sample(counted)), estimateOf(measureP99.sample(counted))
	s.CPU = estimateOf(measureCPU.sample(counted))
	s.CPUUser = estimateOf(user)
	s.CPUSys = estimateOf(sys)
	s.Syscalls = estimateOf(sc)
	s.Accepts = estimateOf(apw)
	s.ServerCloses = estimateOf(closes)
	s.Jain, s.MinShare, s.MaxShare = estimateOf(jain), estimateOf(minShare), estimateOf(maxShare)
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

// measured is how many repetitions the cell has results for.
func (s summary) measured() int { return s.OK + s.Busy + s.Failed }

const (
	flagSaturated   = "client saturated"
	flagMachineBusy = "machine busy"
)

// flags are the warnings a row carries; a result with any of them should
// not be quoted without reading why.
func (s summary) flags() []string {
	var f []string
	if s.OK == 0 && s.Busy == 0 {
		f = append(f, "no data")
	}
	if s.Busy > 0 {
		f = append(f, fmt.Sprintf("%s: %d/%d reps left out", flagMachineBusy, s.Busy, s.measured()))
	}
	if s.Failed > 0 {
		f = append(f, fmt.Sprintf("%d/%d reps failed", s.Failed, s.measured()))
	}
	if s.Saturated {
		f = append(f, flagSaturated)
	}
	if s.LowestShare < unevenShare {
		f = append(f, fmt.Sprintf("%s: %s sent %.2f× the mean share", flagUneven, s.LowestAgent, s.LowestShare))
	}
	if s.Errors > 0 {
		f = append(f, "errors")
	}
	return f
}

// disqualifiers are the flags that keep a cell out of a ranking: every
// flag but saturation, whose cells are ranked by what the client cannot
// change, and but a busy machine while quiet repetitions are left to rank
// the cell by.
func (s summary) disqualifiers() []string {
	return slices.DeleteFunc(s.flags(), func(f string) bool {
		return f == flagSaturated || strings.HasPrefix(f, flagMachineBusy) && s.OK > 0
	})
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
