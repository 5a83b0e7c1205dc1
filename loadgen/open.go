package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func init() { engines[Open] = runOpen }

// The open-loop engine is vegeta's attacker driven by vegeta's pacers:
// requests leave on the pacer's schedule whatever the server does, which is
// what a latency-versus-load curve needs. Its results arrive on one channel
// and are recorded by this goroutine alone, so one recorder serves them all.
func runOpen(ctx context.Context, o Options, target *url.URL, col *collector) error {
	pacer, err := openPacer(o)
	if err != nil {
		return err
	}
	tgt := vegeta.Target{Method: o.Method, URL: target.String(), Header: http.Header{}}
	for _, h := range o.Headers {
		tgt.Header.Add(h.Name, h.Value)
	}
	// vegeta would turn a request it cannot build into one failed hit
	// after another; say it once instead.
	if _, err := tgt.Request(); err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	if _, err := resolve(target.Host, o.Timeout); err != nil {
		return err
	}
	var encode vegeta.Encoder
	if o.VegetaResults != nil {
		encode = vegeta.NewEncoder(o.VegetaResults)
	}
	attacker := vegeta.NewAttacker(
		vegeta.Workers(uint64(o.Connections)),
		vegeta.Connections(o.Connections),
		vegeta.MaxConnections(o.Connections),
		vegeta.KeepAlive(!o.Close),
		vegeta.Timeout(o.Timeout),
		// A redirect is an answer to measure, not to follow.
		vegeta.Redirects(vegeta.NoFollow),
		// A benchmark talks to its target, never through a proxy that
		// the environment happens to name.
		vegeta.Proxy(nil),
	)

	rec := col.recorder()
	sched := schedule{pacer: pacer, began: time.Now()}
	// A zero duration would make vegeta attack until stopped; a window
	// already over by now (setup outlasted it) still ends at once.
	du := max(col.windowEnd.Sub(sched.began), time.Nanosecond)
	results := attacker.Attack(vegeta.NewStaticTargeter(tgt), pacer, du, "")

	var (
		cpuFrom  time.Duration
		wallFrom time.Time
		encErr   error
	)
	finish := func(end time.Time) {
		rec.finish(end)
		// vegeta's workers are goroutines on any thread, so the busy
		// fraction is the whole process's CPU per CPU it may use.
		if !wallFrom.IsZero() && end.After(wallFrom) {
			user, sys := processCPU()
			rec.threadBusy = float64(user+sys-cpuFrom) / float64(end.Sub(wallFrom)) / float64(availableCPUs())
		}
	}
	timer := time.NewTimer(rec.untilTick(time.Now()))
	defer timer.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				finish(time.Now())
				return encErr
			}
			rec.sent(r.Timestamp, sched.due(r.Seq, r.Timestamp).Add(vegetaPacingSlack))
			recordHit(rec, r, o.Status)
			if encode != nil && encErr == nil {
				if err := encode(r); err != nil {
					encErr = fmt.Errorf("writing vegeta results: %w", err)
					attacker.Stop()
				}
			}
			if o.MaxRequests > 0 && rec.requests >= o.MaxRequests {
				attacker.Stop()
			}
		case <-timer.C:
			timer.Reset(rec.untilTick(time.Now()))
		case <-ctx.Done():
			attacker.Stop()
			// The hits still in flight end within the timeout; they go
			// unrecorded, so that an interrupted attack stops at once.
			go func() {
				for range results {
				}
			}()
			finish(time.Now())
			return encErr
		}
		now := time.Now()
		if wallFrom.IsZero() && !now.Before(col.windowStart) {
			user, sys := processCPU()
			cpuFrom, wallFrom = user+sys, now
		}
		rec.tick(now)
	}
}

// vegetaPacingSlack is how late vegeta's pacer leaves hits while it keeps
// up; only hits later than this (and the recorder's own lateSlack) count
// as behind. The pacer sleeps on the Go runtime's timers, which the
// netpoller wakes in whole milliseconds (a shorter wait takes one, a longer
// one is truncated and topped up), and it shares the CPUs with vegeta's
// workers. Measured on a shared 2-core machine at rates it sustains, 1-2%
// of hits leave more than 2 ms late and 0.1-0.3% more than 5 ms; at a rate
// it cannot sustain, over 90% leave hundreds of milliseconds late.
const vegetaPacingSlack = 4 * time.Millisecond

// recordHit records one vegeta result. vegeta sets Code only once it has
// read the whole answer (and then Error holds nothing but the status text
// of a 4xx or 5xx), so a Code is an answer and no Code a failure.
func recordHit(rec *recorder, r *vegeta.Result, status int) {
	end := r.End()
	switch {
	case int(r.Code) == status:
		rec.success(end, r.Latency, status, int(r.BytesIn))
	case r.Code != 0:
		rec.badStatus(end, int(r.Code), int(r.BytesIn))
	default:
		rec.fail(end, hitFailureKind(r.Error))
	}
}

// hitFailureKind sorts a failed hit by the text net/http gave vegeta, which
// is all of the error that reaches us. Running out of time is a timeout
// wherever it happened, as the Timeout option promises; then the
// connection, the answer's form, the request's write, and whatever else
// went wrong reading the answer (a reset, a close mid-answer).
func hitFailureKind(msg string) failureKind {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("Timeout exceeded", "timeout", "deadline exceeded"):
		return failTimeout
	case has("dial tcp", "connect: "):
		return failConnect
	case has("malformed", "bad Content-Length", "invalid Content-Length", "invalid byte in chunk", "too long"):
		return failMalformed
	case has("write tcp", "write: ", "broken pipe"):
		return failWrite
	}
	return failRead
}

// openPacer builds vegeta's pacer for o's rate shape. The linear ramp spans
// the whole attack, warm-up included, because vegeta's clock starts with
// the warm-up.
func openPacer(o Options) (vegeta.Pacer, error) {
	base, err := vegetaRate(o.Rate)
	if err != nil {
		return nil, err
	}
	var p vegeta.Pacer = base
	switch o.Pacer {
	case PacerLinear:
		p = vegeta.LinearPacer{StartAt: base, Slope: (o.RateTo - o.Rate) / (o.Warmup + o.Duration).Seconds()}
	case PacerSine:
		amp, err := vegetaRate(o.Amplitude)
		if err != nil {
			return nil, err
		}
		p = vegeta.SinePacer{Period: o.Period, Mean: base, Amp: amp, StartAt: vegeta.MeanUp}
	}
	// A pacer vegeta finds invalid stops the attack before the first hit
	// without a word.
	if _, stop := p.Pace(0, 0); stop {
		return nil, fmt.Errorf("%s pacer at %g/s (to %g/s, amplitude %g/s): vegeta cannot pace it", o.Pacer, o.Rate, o.RateTo, o.Amplitude)
	}
	return p, nil
}

// vegetaRate writes a rate in vegeta's terms, hits per period, as one hit
// per interval to the nanosecond, so fractional rates stay exact enough.
func vegetaRate(perSecond float64) (vegeta.Rate, error) {
	interval := time.Duration(float64(time.Second) / perSecond)
	if interval < 1 {
		return vegeta.Rate{}, fmt.Errorf("rate %g/s: more than one request per nanosecond cannot be paced", perSecond)
	}
	return vegeta.Rate{Freq: 1, Per: interval}, nil
}

// schedule tells when a hit was due by its pacer. vegeta keeps its schedule
// to itself, but a pacer's Pace(t, n) is positive exactly while hit n
// (counted from 0) is not yet due at t, and is then how long until it is;
// asking it at instants before a hit left finds the hit's due time from the
// pacer's own arithmetic, whatever its shape.
type schedule struct {
	pacer vegeta.Pacer
	// began is taken just before vegeta starts its clock, so due times
	// err early by microseconds: a late hit is never missed.
	began time.Time
}

// due returns when hit seq, which left at sent, was due. A hit on time
// costs one question to the pacer; a late one about twice log2(lateness /
// lateSlack).
func (s schedule) due(seq uint64, sent time.Time) time.Time {
	wait := func(t time.Duration) time.Duration {
		w, _ := s.pacer.Pace(t, seq)
		return w
	}
	left := sent.Sub(s.began)
	// Look back from the send in doubling steps for an instant the hit was
	// not yet due at; the instant looked at before it is one it was due at.
	lo, hi := max(left-lateSlack, 0), time.Duration(-1)
	w := wait(lo)
	for back := 2 * lateSlack; w <= 0 && lo > 0; back *= 2 {
		lo, hi = max(left-back, 0), lo
		w = wait(lo)
	}
	if hi < 0 {
		return s.began.Add(lo + max(w, 0))
	}
	// Halve the bracket (lo, hi] down to lateSlack, then let the pacer
	// step the rest: over so short a stretch its arithmetic is exact.
	for hi-lo > lateSlack {
		mid := lo + (hi-lo)/2
		if mw := wait(mid); mw > 0 {
			lo, w = mid, mw
		} else {
			hi = mid
		}
	}
	return s.began.Add(min(lo+max(w, 0), hi))
}
