package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WriteSummary prints r the way wrk does, so its users read it at a glance,
// with what wrk leaves out: which kind of latency the percentiles are,
// errors by kind, the tail past p99, and whether the generator itself was
// the limit.
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
		fmt.Fprintf(&b, "  %d threads and %d connections, %s\n", r.Threads, r.Connections, how)
	}
	if r.Warmup > 0 {
		fmt.Fprintf(&b, "  after %s of warm-up, not counted\n", fmtSeconds(r.Warmup))
	}
	if r.LatencyKind != NoLatency && r.Latency.Recorded > 0 {
		l := r.Latency
		switch r.LatencyKind {
		case Corrected:
			b.WriteString("  Latency, corrected for coordinated omission (from when each request was due):\n")
		default:
			b.WriteString("  Latency, measured response times (no correction, no synthetic samples):\n")
		}
		fmt.Fprintf(&b, "    %-8s %9s %9s %9s %9s\n", "", "Min", "Avg", "Stdev", "Max")
		fmt.Fprintf(&b, "    %-8s %9s %9s %9s %9s\n", "Latency", fmtUS(l.MinUS), fmtUS(l.MeanUS), fmtUS(l.StdevUS), fmtUS(l.MaxUS))
		b.WriteString("  Latency Distribution\n")
		for _, q := range []struct {
			p string
			v float64
		}{{"50%", l.P50US}, {"75%", l.P75US}, {"90%", l.P90US}, {"99%", l.P99US}, {"99.9%", l.P999US}, {"99.99%", l.P9999US}} {
			fmt.Fprintf(&b, "    %6s %9s\n", q.p, fmtUS(q.v))
		}
	}
	if r.Mode == Stream {
		fmt.Fprintf(&b, "  %s written in %s\n", fmtBytes(float64(r.BytesWritten)), fmtSeconds(r.Duration))
	} else {
		fmt.Fprintf(&b, "  %d requests in %s, %s read\n", r.Requests, fmtSeconds(r.Duration), fmtBytes(float64(r.BytesRead)))
	}
	if e := r.Errors; e.Total() > 0 {
		fmt.Fprintf(&b, "  Errors: %d (connect %d, read %d, write %d, timeout %d, status %d, malformed %d)\n",
			e.Total(), e.Connect, e.Read, e.Write, e.Timeout, e.Status, e.Malformed)
	}
	if r.Unfinished > 0 {
		fmt.Fprintf(&b, "  Unfinished: %d requests in flight when the window closed, cancelled: neither answered nor failed\n", r.Unfinished)
	}
	if codes := r.otherStatuses(); codes != "" {
		fmt.Fprintf(&b, "  Unexpected status codes: %s\n", codes)
	}
	if r.Mode != Stream {
		fmt.Fprintf(&b, "Requests/sec: %12.2f\n", r.RequestsPerS)
	}
	fmt.Fprintf(&b, "Transfer/sec: %12s\n", fmtBytes(r.BytesPerS))
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
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) otherStatuses() string {
	var codes []int
	for code := range r.Statuses {
		if code != 0 && !(code >= 200 && code < 300) {
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

func fmtUS(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fus", us)
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
