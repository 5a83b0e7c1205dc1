package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WriteSummary prints r the way wrk does, in lines wrk's parsers read
// (Latency's Avg, Stdev and Max; "N requests in"; Socket errors; Non-2xx
// or 3xx responses; Requests/sec, counting every answer as wrk does;
// Transfer/sec), with what wrk leaves out: which kind of latency the
// percentiles are, the success rate, errors by kind and their causes, the
// tail past p99, the connections kept busy, and whether the generator
// itself was the limit.
func (r *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s load @ %s\n", fmtSeconds(r.Duration), r.Mode, r.URL)
	switch r.Mode {
	case Stream:
		fmt.Fprintf(&b, "  %d threads and %d connections, writing raw TCP\n", r.Threads, r.Connections)
	case Open:
		fmt.Fprintf(&b, "  %s pacer from %.0f requests/s, up to %d connections\n", r.Pacer, r.Rate, r.Connections)
	default:
		how := "keep-alive"
		if r.Close {
			how = "a new connection per request"
		}
		if r.Pipeline > 1 {
			how += fmt.Sprintf(", pipeline %d", r.Pipeline)
		}
		if r.Rate > 0 {
			how += fmt.Sprintf(", paced at %.0f requests/s", r.Rate)
		}
		if r.IO == IOUring {
			how += ", on io_uring"
		}
		fmt.Fprintf(&b, "  %d threads and %d connections, %s\n", r.Threads, r.Connections, how)
	}
	if r.Warmup > 0 {
		fmt.Fprintf(&b, "  after %s of warm-up, not counted\n", fmtSeconds(r.Warmup))
	}
	if r.LatencyKind != NoLatency && r.Latency.Recorded > 0 {
		l := r.Latency
		switch r.LatencyKind {
		case Corrected:
			b.WriteString("  Latency, corrected for coordinated omission (from when each request was due, or left if earlier):\n")
		default:
			b.WriteString("  Latency, measured response times (no correction, no synthetic samples):\n")
		}
		// wrk's columns, in wrk's order, so that its parsers read them;
		// Min after them.
		fmt.Fprintf(&b, "    %-9s %9s %9s %9s %10s %9s\n", "", "Avg", "Stdev", "Max", "+/- Stdev", "Min")
		fmt.Fprintf(&b, "    %-9s %9s %9s %9s %9.2f%% %9s\n", "Latency", fmtUS(l.MeanUS), fmtUS(l.StdevUS), fmtUS(l.MaxUS), r.withinStdev(), fmtUS(l.MinUS))
		// Always printed: --latency is accepted for wrk's command lines.
		b.WriteString("  Latency Distribution\n")
		for _, q := range []struct {
			p string
			v float64
		}{{"50%", l.P50US}, {"75%", l.P75US}, {"90%", l.P90US}, {"99%", l.P99US}, {"99.9%", l.P999US}, {"99.99%", l.P9999US}} {
			fmt.Fprintf(&b, "    %6s %9s\n", q.p, fmtUS(q.v))
		}
	}
	e := r.Errors
	if r.Mode == Stream {
		fmt.Fprintf(&b, "  %s written in %s\n", fmtBytes(float64(r.BytesWritten)), fmtSeconds(r.Duration))
	} else {
		// wrk's line: every answer, whatever its status, and the bytes of
		// whole responses.
		fmt.Fprintf(&b, "  %d requests in %s, %s read (whole responses: status line, headers, body)\n", r.Answered(), fmtSeconds(r.Duration), fmtBytes(float64(r.BytesRead)))
	}
	if e.Connect+e.Read+e.Write+e.Timeout > 0 {
		fmt.Fprintf(&b, "  Socket errors: connect %d, read %d, write %d, timeout %d\n", e.Connect, e.Read, e.Write, e.Timeout)
	}
	if r.ServerCloses > 0 {
		// wrk prints these as "Socket errors: read N"; a wrk user
		// must find them here.
		fmt.Fprintf(&b, "  Server closes: %d connections closed by the server after a complete answer (wrk counts them as socket read errors): reopened, requests they caught sent again, no errors\n", r.ServerCloses)
	}
	if r.Reconnects > 0 {
		fmt.Fprintf(&b, "  Reconnects: %d connections opened in place of earlier ones", r.Reconnects)
		if r.Answered() > 0 {
			fmt.Fprintf(&b, ", %.2f per request", r.PerAnswered(r.Reconnects))
		}
		b.WriteString(" (a request's latency includes its connect)\n")
	}
	if f := r.Fairness; f != nil && f.Connections > 1 {
		fmt.Fprintf(&b, "  Fairness over %d connections: Jain's index %.3f, fewest answers %.2f× the mean, most %.2f×\n", f.Connections, f.Jain, f.MinShare, f.MaxShare)
	}
	if n := r.non2xx3xx(); n > 0 {
		fmt.Fprintf(&b, "  Non-2xx or 3xx responses: %d\n", n)
	}
	if e.Status > 0 {
		fmt.Fprintf(&b, "  Status other than %d: %d (%s), counted as errors\n", r.successStatus(), e.Status, r.otherStatuses())
	}
	if e.Malformed > 0 {
		fmt.Fprintf(&b, "  Malformed responses: %d\n", e.Malformed)
	}
	if causes := r.causes(); causes != "" {
		fmt.Fprintf(&b, "  First error of each kind: %s\n", causes)
	}
	if r.Unfinished > 0 {
		fmt.Fprintf(&b, "  Unfinished: %d requests in flight when the window closed, cancelled: neither answered nor failed\n", r.Unfinished)
	}
	if r.Mode != Stream {
		// wrk's rate counts every answer; the successes' rate, the
		// result's requests_per_sec, goes beside it.
		var answeredPerS float64
		if r.Duration > 0 {
			answeredPerS = float64(r.Answered()) / r.Duration
		}
		fmt.Fprintf(&b, "Requests/sec: %12.2f  (%s answered with status %d", answeredPerS, r.successShare(), r.successStatus())
		if r.Requests != r.Answered() {
			fmt.Fprintf(&b, ": %.2f/s", r.RequestsPerS)
		}
		b.WriteString(")\n")
	}
	fmt.Fprintf(&b, "Transfer/sec: %12s\n", fmtBytes(r.BytesPerS))
	if r.Mode != Stream && r.Latency.Recorded > 0 {
		// Little's law: the requests in flight on average are the rate
		// times the time each spends in flight. Below the connections,
		// they sat idle part of the time (the generator, or connects).
		inFlight := r.RequestsPerS * r.Latency.MeanUS / 1e6
		switch {
		case r.Mode == Open:
			fmt.Fprintf(&b, "In flight: %.1f, with up to %d connections (requests/s × mean latency)\n", inFlight, r.Connections)
		case r.LatencyKind == Corrected:
			fmt.Fprintf(&b, "In flight: %.1f of %d connections (requests/s × mean latency from when each was due: above %d, requests waited for a connection)\n", inFlight, r.Connections, r.Connections)
		default:
			fmt.Fprintf(&b, "In flight: %.1f of %d connections (requests/s × mean latency)\n", inFlight, r.Connections)
		}
	}
	// With one second the slowest is the average.
	if s := r.Slowest; s != nil && len(r.Series) > 1 {
		rate := fmt.Sprintf("%.2f requests/s", s.RequestsPerS)
		if r.Mode == Stream {
			rate = fmtBytes(s.BytesPerS) + "/s"
		}
		fmt.Fprintf(&b, "Slowest second: %s (%s-%s of the window)\n", rate, fmtSeconds(s.T), fmtSeconds(min(s.T+1, r.Duration)))
	}
	c := r.Client
	fmt.Fprintf(&b, "Generator CPU: %.2fs user, %.2fs system", c.UserSeconds, c.SysSeconds)
	if r.Requests > 0 {
		fmt.Fprintf(&b, ", %.2f µs/request", c.CPUPerRequestUS)
	}
	if c.RingEnters > 0 && r.Requests > 0 {
		fmt.Fprintf(&b, ", %.3f io_uring_enter/request", float64(c.RingEnters)/float64(r.Requests))
	}
	fmt.Fprintf(&b, "; busiest loop %.0f%%\n", c.Busiest*100)
	if r.Saturated {
		why := fmt.Sprintf("a loop was busy %.0f%% of the time", c.Busiest*100)
		if c.Behind > 0.01 {
			why = fmt.Sprintf("%.1f%% of paced requests left late", c.Behind*100)
		}
		fmt.Fprintf(&b, "WARNING: the load generator was saturated (%s): the server may be faster than this says.\n", why)
	}
	if r.Interrupted {
		b.WriteString("Interrupted: these numbers cover the time measured before the stop.\n")
	}
	r.writeAgents(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// PerAnswered is n per answered request (server closes, reconnects);
// NaN when none was answered.
func (r *Result) PerAnswered(n int64) float64 {
	if r.Answered() == 0 {
		return math.NaN()
	}
	return float64(n) / float64(r.Answered())
}

// otherStatuses lists the answers whose status was not the successful one,
// by status ("12×404, 3×301").
func (r *Result) otherStatuses() string {
	var codes []int
	for code := range r.Statuses {
		if code != r.successStatus() {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d×%d", r.Statuses[c], c)
	}
	return strings.Join(parts, ", ")
}

// non2xx3xx counts the answers wrk calls "Non-2xx or 3xx responses":
// those with a status above 399.
func (r *Result) non2xx3xx() int {
	n := 0
	for code, count := range r.Statuses {
		if code > 399 {
			n += count
		}
	}
	return n
}

// successShare is the share of requests answered with the successful
// status, rounded down so that one failure in many is not shown as 100%.
func (r *Result) successShare() string {
	tried := r.Requests + r.Errors.Total()
	if tried == 0 {
		return "0%"
	}
	return fmtShare(math.Floor(float64(r.Requests)/float64(tried)*1e4) / 1e4)
}

// causes lists the first cause of each kind of error ("connect: too many
// open files; timeout: no answer within --timeout 2s").
func (r *Result) causes() string {
	var parts []string
	for k := range failureKinds {
		if cause, ok := r.ErrorCauses[k.String()]; ok {
			parts = append(parts, k.String()+": "+cause)
		}
	}
	return strings.Join(parts, "; ")
}

// withinStdev is the percentage of latencies within one standard
// deviation of the mean, wrk's "+/- Stdev".
func (r *Result) withinStdev() float64 {
	h, err := r.Histogram()
	if err != nil || h.TotalCount() == 0 {
		return 0
	}
	lo, hi := r.Latency.MeanUS-r.Latency.StdevUS, r.Latency.MeanUS+r.Latency.StdevUS
	var in int64
	for _, bar := range h.Distribution() {
		if v := float64(bar.From+bar.To) / 2; bar.Count > 0 && v >= lo && v <= hi {
			in += bar.Count
		}
	}
	return 100 * float64(in) / float64(h.TotalCount())
}

func fmtUS(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.2fus", us)
	}
}

func fmtSeconds(s float64) string {
	return fmt.Sprintf("%.2fs", s)
}

func fmtBytes(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", n, units[i])
	}
	return fmt.Sprintf("%.2f%s", math.Round(n*100)/100, units[i])
}
