package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// vegeta's Stop ends the pacing only: the hits in flight would run on
	// to the timeout, past the window. Every request carries the window's
	// context instead, so closing the window cancels them.
	window, closeWindow := context.WithCancel(context.Background())
	defer closeWindow()
	gate := &hitGate{end: col.windowEnd}
	sizes := &wireSizes{bySeq: map[uint64]int64{}}
	conns := &openConns{keepAlive: !o.Close, measuring: func() bool { now := time.Now(); return !now.Before(col.windowStart) && now.Before(col.windowEnd) }}
	attacker := vegeta.NewAttacker(
		// vegeta's own options for its client (connections, keep-alive,
		// timeout, redirects, proxy) assume its transport; openClient
		// sets them on one that knows the window.
		vegeta.Client(openClient(o, window, sizes, conns)),
		vegeta.Workers(uint64(o.Connections)),
	)

	rec := col.recorder()
	sched := schedule{pacer: pacer, began: time.Now()}
	// A zero duration would make vegeta attack until stopped; a window
	// already over by now (setup outlasted it) still ends at once.
	du := max(col.windowEnd.Sub(sched.began), time.Nanosecond)
	results := attacker.Attack(gate.targeter(vegeta.NewStaticTargeter(tgt)), pacer, du, "")

	var (
		cpuFrom    time.Duration
		wallFrom   time.Time
		encErr     error
		unfinished int
		// taken counts the results of hits that began.
		taken int64
	)
	// take handles the result of one hit, given when the window closed:
	// a hit that ended before is recorded (and encoded), one that was in
	// flight then is unfinished, one that began after it is not counted.
	take := func(r *vegeta.Result, closed time.Time) {
		if r.Error == errWindowClosed.Error() {
			// Refused by the gate: it never began.
			return
		}
		taken++
		size := sizes.take(r.Seq)
		if !r.Timestamp.Before(closed) {
			return
		}
		rec.sent(r.Timestamp, sched.due(r.Seq, r.Timestamp).Add(vegetaPacingSlack))
		if !r.End().Before(closed) {
			unfinished++
			return
		}
		recordHit(rec, r, o.Status, size)
		if encode != nil && encErr == nil {
			if err := encode(r); err != nil {
				encErr = fmt.Errorf("writing vegeta results: %w", err)
				attacker.Stop()
			}
		}
		if o.MaxRequests > 0 && rec.requests >= o.MaxRequests {
			attacker.Stop()
		}
	}
	// The one timer wakes the loop at each second's end, to tick, and at
	// the window's end.
	untilWake := func(now time.Time) time.Duration {
		return min(rec.untilTick(now), col.windowEnd.Sub(now))
	}
	timer := time.NewTimer(untilWake(time.Now()))
	defer timer.Stop()
	closed := col.windowEnd
wait:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				// The attack ended by itself (MaxRequests, or the
				// encoder failed): nothing is in flight.
				break wait
			}
			take(r, closed)
		case <-timer.C:
			timer.Reset(untilWake(time.Now()))
		case <-ctx.Done():
			closed = time.Now()
			break wait
		}
		now := time.Now()
		if !now.Before(closed) {
			// Not ticked past the window's end: the results still to
			// come that ended before it belong to its last second.
			break
		}
		if wallFrom.IsZero() && !now.Before(col.windowStart) {
			user, sys := processCPU()
			cpuFrom, wallFrom = user+sys, now
		}
		rec.tick(now)
	}
	// The window has closed: no hit begins any more, those in flight are
	// cancelled, and their results come back at once. vegeta's pacer
	// notices Stop only when it wakes for its next hit, up to one interval
	// later, so the engine waits for the hits that began, not for the
	// results channel to close.
	attacker.Stop()
	begun := gate.close()
	closeWindow()
	for taken < begun {
		r, ok := <-results
		if !ok {
			break
		}
		take(r, closed)
	}
	go func() {
		// Hits the gate refuses until the pacer wakes.
		for range results {
		}
	}()
	rec.abandoned(closed, unfinished)
	rec.serverCloses, rec.reconnects = conns.serverCloses.Load(), conns.reconnects.Load()
	end := time.Now()
	rec.finish(end)
	// vegeta's workers are goroutines on any thread, so the busy fraction
	// is the whole process's CPU per CPU it may use.
	if !wallFrom.IsZero() && end.After(wallFrom) {
		user, sys := processCPU()
		rec.threadBusy = float64(user+sys-cpuFrom) / float64(end.Sub(wallFrom)) / float64(availableCPUs())
	}
	return encErr
}

// openClient is the HTTP client of vegeta's attacker: at most Connections
// connections, kept alive unless Close, never through a proxy the
// environment happens to name, redirects answers to measure rather than
// follow, every request bounded by the timeout and by the window, the
// size of every answer on the wire put in sizes, and the connections'
// closes and reconnects counted in conns.
func openClient(o Options, window context.Context, sizes *wireSizes, conns *openConns) *http.Client {
	var d net.Dialer
	return &http.Client{
		Transport: windowTransport{
			window:  window,
			timeout: o.Timeout,
			sizes:   sizes,
			conns:   conns,
			next: &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := d.DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					return conns.opened(c), nil
				},
				MaxIdleConnsPerHost: o.Connections,
				MaxConnsPerHost:     o.Connections,
				DisableKeepAlives:   o.Close,
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// windowTransport gives each request a context that ends at its timeout or
// when the window closes, whichever comes first, and lasts until its
// answer's body is closed. It owns the timeout (the client has none): an
// http.Client with a timeout would run a timer goroutine per request for a
// transport it does not know.
//
// It also measures each answer's size on the wire: the bytes its
// connection read from when the request got the connection to when the
// body was closed, read to its end by vegeta. net/http reads nothing of a
// connection between answers (it sends no request before the last answer
// is read), so those are the answer's bytes exactly.
type windowTransport struct {
	window  context.Context
	timeout time.Duration
	sizes   *wireSizes
	conns   *openConns
	next    http.RoundTripper
}

func (t windowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	stop := context.AfterFunc(t.window, cancel)
	var (
		conn *countingConn
		from int64
	)
	// GotConn is called on this goroutine before the request is sent.
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if c, ok := info.Conn.(*countingConn); ok {
			conn, from = c, c.read.Load()
		}
	}})
	seq, seqErr := strconv.ParseUint(req.Header.Get("X-Vegeta-Seq"), 10, 64)
	var resp *http.Response
	done := func(complete bool) {
		if conn != nil && seqErr == nil {
			t.sizes.put(seq, conn.read.Load()-from)
		}
		if conn != nil && complete {
			t.conns.answered(conn, resp.Close)
		}
		stop()
		cancel()
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// countingConn counts the bytes read from a connection, and notes how it
// ended for openConns. net/http reads on one goroutine and answers on
// others, hence the atomics.
type countingConn struct {
	net.Conn
	conns *openConns
	read  atomic.Int64
	// answerEnd is read as it was when the last complete answer's body
	// ended, answers how many there were; peerClosed says a read found
	// the server's close; counted that it was counted as a server close
	// (once at most); closed that the pool has closed the connection.
	answerEnd  atomic.Int64
	answers    atomic.Int64
	peerClosed atomic.Bool
	counted    atomic.Bool
	closed     atomic.Bool
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		c.peerClosed.Store(true)
		c.conns.closedAfterAnswer(c)
	}
	return n, err
}

func (c *countingConn) Close() error {
	if !c.closed.Swap(true) {
		c.conns.vacated()
	}
	return c.Conn.Close()
}

// openConns counts, for the open engine, the connections net/http's pool
// opens in place of earlier ones and those the server closed after a
// complete answer (as the closed engine counts them, closed.go): an
// answer with Connection: close, or a close that a connection read with
// nothing of an answer since its last. net/http sends again a request the
// close caught on a connection it had reused (RFC 9112 §9.3.1), so no
// request is lost to one. A connection opened while one closed earlier
// has not been replaced yet is a reconnect.
type openConns struct {
	// keepAlive: the requests do not ask for the close, so a close is the
	// server's doing.
	keepAlive                bool
	measuring                func() bool
	serverCloses, reconnects atomic.Int64

	mu sync.Mutex
	// vacant counts the connections closed and not yet replaced.
	vacant int
}

func (o *openConns) opened(c net.Conn) *countingConn {
	o.mu.Lock()
	replaces := o.vacant > 0
	if replaces {
		o.vacant--
	}
	o.mu.Unlock()
	if replaces && o.measuring() {
		o.reconnects.Add(1)
	}
	return &countingConn{Conn: c, conns: o}
}

func (o *openConns) vacated() {
	o.mu.Lock()
	o.vacant++
	o.mu.Unlock()
}

// answered notes a complete answer on c, which said Connection: close if
// closing.
func (o *openConns) answered(c *countingConn, closing bool) {
	c.answerEnd.Store(c.read.Load())
	c.answers.Add(1)
	if closing {
		o.count(c)
		return
	}
	o.closedAfterAnswer(c)
}

// closedAfterAnswer counts c's close once it is known to have come after
// a complete answer with nothing read since; the read that found it and
// the answer's end may come in either order.
func (o *openConns) closedAfterAnswer(c *countingConn) {
	if c.peerClosed.Load() && c.answers.Load() > 0 && c.answerEnd.Load() == c.read.Load() {
		o.count(c)
	}
}

func (o *openConns) count(c *countingConn) {
	if o.keepAlive && !c.counted.Swap(true) && o.measuring() {
		o.serverCloses.Add(1)
	}
}

// wireSizes carries each answer's size on the wire from the transport,
// which measures it, to the engine, which records the hit: vegeta counts
// the body alone (BytesIn). Hits are known by vegeta's sequence number,
// which it sends as X-Vegeta-Seq.
type wireSizes struct {
	mu    sync.Mutex
	bySeq map[uint64]int64
}

func (w *wireSizes) put(seq uint64, n int64) {
	w.mu.Lock()
	w.bySeq[seq] = n
	w.mu.Unlock()
}

// take returns and forgets the size of hit seq's answer (0: none read).
func (w *wireSizes) take(seq uint64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.bySeq[seq]
	delete(w.bySeq, seq)
	return n
}

// cancelOnClose ends a request's context once its body is closed, saying
// whether the body was read to its end.
type cancelOnClose struct {
	io.ReadCloser
	done     func(complete bool)
	complete bool
}

func (b *cancelOnClose) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.complete = true
	}
	return n, err
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.done(b.complete)
	return err
}

// hitGate lets vegeta's hits begin until the window closes, and counts
// those that did: each sends one result, which the engine waits for.
// vegeta's pacer, which checks its duration only before it sleeps, would
// begin one more after the window's end.
type hitGate struct {
	end    time.Time
	mu     sync.Mutex
	begun  int64
	closed bool
}

// errWindowClosed is how the gate refuses a hit; vegeta returns it as the
// hit's error, before any request.
var errWindowClosed = errors.New("the measured window has closed")

// targeter wraps vegeta's targeter, which vegeta calls once per hit before
// its request.
func (g *hitGate) targeter(next vegeta.Targeter) vegeta.Targeter {
	return func(tgt *vegeta.Target) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.closed || !time.Now().Before(g.end) {
			return errWindowClosed
		}
		g.begun++
		return next(tgt)
	}
}

// close refuses every later hit, even before the window's end (an
// interrupted attack), and returns how many began.
func (g *hitGate) close() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return g.begun
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

// recordHit records one vegeta result whose answer was size bytes on the
// wire. vegeta sets Code only once it has read the whole answer (and then
// Error holds nothing but the status text of a 4xx or 5xx), so a Code is
// an answer and no Code a failure.
func recordHit(rec *recorder, r *vegeta.Result, status int, size int64) {
	end := r.End()
	switch {
	case int(r.Code) == status:
		rec.success(end, r.Latency, status, int(size))
	case r.Code != 0:
		rec.badStatus(end, int(r.Code), int(size))
	default:
		rec.fail(end, hitFailureKind(r.Error), hitCause(r.Error))
	}
}

// unsolicited is how net/http fails a request given a connection on which
// the server sent bytes before any request (and logs "Unsolicited
// response received on idle HTTP channel"): a server that speaks first,
// such as sshd, is answering no request.
const unsolicited = "readLoopPeekFailLocked: %!w(<nil>)"

// hitCause is a failed hit's error without the request vegeta's client
// puts before it (`Get "http://…/": `), which every hit shares.
func hitCause(msg string) error {
	if _, rest, ok := strings.Cut(msg, "\": "); ok && strings.Contains(msg[:len(msg)-len(rest)], " \"") {
		msg = rest
	}
	if strings.Contains(msg, unsolicited) {
		msg = "the server sent bytes before any request, on an idle connection"
	}
	return errors.New(msg)
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
	case has("malformed", "bad Content-Length", "invalid Content-Length", "invalid byte in chunk", "too long", unsolicited):
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
