package results

import (
	"fmt"
	"math"

	"github.com/sockbench/sockbench/internal/ranktest"
	"github.com/sockbench/sockbench/loadgen"
)

// Which repetitions of a cell count, and which of its numbers it is ranked
// by, are decided here and nowhere else: the report ranks and compares
// cells by them, and the runner's adaptive rounds measure a cell again
// until the same number is known well enough. A cell the runner calls
// converged is therefore converged on the number the report shows, over
// the repetitions the report uses (issue #10).

// Counts reports whether the repetition's numbers may be compared with
// others': it measured something (status ok) on a quiet machine. A busy
// one measured the other work on its CPUs too, so it is kept and shown,
// never ranked.
func (r *Rep) Counts() bool { return r.Status == OK && r.Load != nil && !r.Busy() }

// Busy reports whether the interference check flagged the repetition's
// window "machine busy" (after any re-measurement the plan allowed).
func (r *Rep) Busy() bool { return r.Machine != nil && r.Machine.Busy }

// Measure is a number a cell can be ranked by.
type Measure string

// The measures cells are ranked by; RankedBy says which one.
const (
	RequestsPerS  Measure = "requests/s"
	BytesPerS     Measure = "bytes/s"
	CPUPerRequest Measure = "server CPU µs/request"
)

// The connection figures of a repetition (issue #13), named as the
// claims read them: server closes per answered request (post #5's
// servers closed after every answer), and how evenly the connections were answered (post
// #18): Jain's index, the fewest and the most answers of one connection
// over the mean.
const (
	ServerClosesPerRequest Measure = "server_closes_per_request"
	Jain                   Measure = "jain"
	MinShare               Measure = "min_share"
	MaxShare               Measure = "max_share"
)

// HigherIsBetter says which way the measure improves.
func (m Measure) HigherIsBetter() bool {
	switch m {
	case CPUPerRequest, ServerClosesPerRequest, MaxShare:
		return false
	}
	return true
}

// Of is the measure of one repetition; NaN when it has none (a failed
// repetition, a figure per request of one that answered nothing, fairness
// outside closed mode). A closed-mode result without a fairness block
// answered nothing or was stored before connections were counted, and
// its zero closes would be no measurement.
func (m Measure) Of(r *Rep) float64 {
	if r.Status != OK || r.Load == nil {
		return math.NaN()
	}
	l, f := r.Load, r.Load.Fairness
	switch m {
	case ServerClosesPerRequest:
		if f == nil && l.Mode != loadgen.Open {
			return math.NaN()
		}
	case Jain, MinShare, MaxShare:
		if f == nil {
			return math.NaN()
		}
	}
	switch m {
	case ServerClosesPerRequest:
		return l.PerAnswered(l.ServerCloses)
	case Jain:
		return f.Jain
	case MinShare:
		return f.MinShare
	case MaxShare:
		return f.MaxShare
	case RequestsPerS:
		return r.Load.RequestsPerS
	case BytesPerS:
		return r.Load.BytesPerS
	case CPUPerRequest:
		if c := r.Cost(nil); c != nil {
			return c.CPUTotalUS
		}
	}
	return math.NaN()
}

// RankedBy is the one rule for the number cells are ranked by:
//
//   - in stream mode, bytes/s: a sink answers no requests, so nothing is
//     per request;
//   - where the load generator was saturated, server CPU µs per request:
//     requests/s there are what the client could send, while the server's
//     CPU per answered request holds whatever the client did;
//   - otherwise requests/s.
//
// saturated says whether the generator was saturated in a counted
// repetition of the cells ranked together. The report ranks a group of
// cells that differ only in the server, so one saturated cell moves the
// whole group to CPU per request; the adaptive rounds judge each cell
// alone (CellMeasure), so a cell the client kept up with converges on
// requests/s even when a neighbour in its group was saturated.
func RankedBy(mode string, saturated bool) Measure {
	switch {
	case mode == string(loadgen.Stream):
		return BytesPerS
	case saturated:
		return CPUPerRequest
	}
	return RequestsPerS
}

// Saturated reports whether the load generator was saturated in any of
// the repetitions that count.
func Saturated(reps []*Rep) bool {
	for _, r := range reps {
		if r.Counts() && r.Load.Saturated {
			return true
		}
	}
	return false
}

// CellMeasure is the measure a cell is ranked by on its own.
func CellMeasure(c *Cell, reps []*Rep) Measure { return RankedBy(c.Load.Mode, Saturated(reps)) }

// IntervalConfidence is the level of every confidence interval of a
// median: the report's and the adaptive rounds'.
const IntervalConfidence = 0.95

// Precision is how well a cell's counted repetitions pin its measure down:
// the median with its confidence interval, benchstat's (order statistics,
// so that no distribution is assumed).
type Precision struct {
	Measure        Measure
	N              int
	Center, Lo, Hi float64
	// HalfWidth is the interval's larger distance from the median as a
	// share of it — the "± 1.2%" benchstat prints; NaN without an
	// interval.
	HalfWidth float64
	// Converged says HalfWidth is within the target.
	Converged bool
	// Why says why there is no interval.
	Why string
}

// CellPrecision computes the precision of the measure the cell is ranked
// by on its own, over its repetitions that count, against the adaptive
// target ci.
func CellPrecision(c *Cell, reps []*Rep, ci Percent) Precision {
	m := CellMeasure(c, reps)
	var values []float64
	for _, r := range reps {
		if v := m.Of(r); r.Counts() && !math.IsNaN(v) {
			values = append(values, v)
		}
	}
	p := Precision{Measure: m, N: len(values), Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), HalfWidth: math.NaN()}
	if len(values) == 0 {
		p.Why = "nothing measured"
		return p
	}
	s := ranktest.NewSample(values)
	p.Center = s.Median
	p.Lo, p.Hi, _ = s.Interval(IntervalConfidence)
	switch {
	case math.IsInf(p.Lo, 0) || math.IsInf(p.Hi, 0):
		p.Why = fmt.Sprintf("n=%d: too few for a %.0f%% interval (need %d)", len(values), 100*IntervalConfidence, ranktest.MinRepsForInterval(IntervalConfidence))
	case s.Median <= 0:
		p.Why = "nothing measured"
	default:
		p.HalfWidth = HalfWidth(p.Lo, p.Center, p.Hi)
		p.Converged = p.HalfWidth <= float64(ci)
	}
	return p
}

// HalfWidth is an interval's larger distance from its centre as a share
// of the centre.
func HalfWidth(lo, center, hi float64) float64 {
	return math.Max(hi-center, center-lo) / math.Abs(center)
}
