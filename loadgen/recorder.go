package loadgen

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// A recorder belongs to one event loop (or one goroutine) and is used by it
// alone, so recording costs no locks and no atomics; once a second it hands
// that second's histogram and counts to the collector and takes a clean
// histogram back. The collector's own goroutine (encode) merges the loops'
// seconds, encodes them and recycles the histograms, so that none of that
// work (a millisecond a second, most of it the encoding) stalls a loop
// and its schedule. Memory stays the same however long a run lasts: two or
// three histograms per loop, and the seconds' encodings go to a spill.
type recorder struct {
	c *collector

	sec *secHist
	// next is the index of the second being filled: samples completed
	// before windowStart+next seconds belong to it.
	next    int
	secEnd  time.Time
	secReq  int64
	secErr  int64
	secByte int64

	requests     int64
	bytesRead    int64
	bytesWritten int64
	errors       Errors
	// causes holds the first error of each failure kind in the window,
	// which says why in the system's or the parser's words.
	causes     [failureKinds]error
	unfinished int64
	statuses   [600]int64
	// serverCloses counts connections the server closed after a complete
	// answer, reconnects the connections opened in place of an earlier
	// one; perConn holds, once the loop is done, the requests each of its
	// connection slots got answered (fairness).
	serverCloses, reconnects int64
	perConn                  []int64
	// paced counts requests sent on a schedule, late those that left more
	// than lateSlack after their time (the generator fell behind).
	paced, late int64

	// CPU of this loop's thread across the window, when the loop owns a
	// locked thread.
	ruStart    unix.Rusage
	ruStarted  bool
	threadBusy float64
	// enters is the loop's count of io_uring_enter calls (nil: not on
	// io_uring); ringEnters is how many it made across the window.
	enters                  *uint64
	entersStart, ringEnters uint64
}

// collector gathers the recorders' seconds and totals.
type collector struct {
	windowStart time.Time
	windowEnd   time.Time
	progress    func(Second)

	mu      sync.Mutex
	loops   int
	pending map[int]*pendingSecond
	// series holds the completed seconds; their histograms are in spill,
	// at spilled (same index), unless the spill failed.
	series     []Second
	spill      *histSpill
	spillTried bool
	spilled    []histRef
	free       []*secHist
	finished   []*recorder
	// queue holds the completed seconds encode has yet to take, unsent
	// counts those it has not finished with; wake tells it there are
	// some, or that closing is set. encoded is closed when it is done,
	// nil until it starts.
	queue   []*pendingSecond
	unsent  int
	wake    chan struct{}
	closing bool
	encoded chan struct{}
	// total is every second's histogram merged; encode's until it is done,
	// as are enc and scratch (one second's histogram, for its percentiles).
	total   *hdrhistogram.Histogram
	enc     histEncoder
	scratch *hdrhistogram.Histogram
}

// pendingSecond is a second some loops have reported; it is complete when
// every live loop has.
type pendingSecond struct {
	idx     int
	s       Second
	hists   []*secHist
	reports int
}

func newCollector(windowStart time.Time, window time.Duration, progress func(Second)) *collector {
	return &collector{
		windowStart: windowStart,
		windowEnd:   windowStart.Add(window),
		progress:    progress,
		pending:     map[int]*pendingSecond{},
		total:       newHistogram(),
	}
}

// recorder makes the recorder of one more loop.
func (c *collector) recorder() *recorder {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loops++
	return &recorder{
		c: c, sec: c.histLocked(),
		secEnd: c.windowStart.Add(time.Second),
	}
}

func (c *collector) histLocked() *secHist {
	if n := len(c.free); n > 0 {
		h := c.free[n-1]
		c.free = c.free[:n-1]
		return h
	}
	return newSecHist()
}

// measuring reports whether a sample completed at now is inside the window.
func (r *recorder) measuring(now time.Time) bool {
	return !now.Before(r.c.windowStart) && now.Before(r.c.windowEnd)
}

// tick closes every second that ended before now. Loops call it whenever
// they wake, and wake at least at every second's end.
func (r *recorder) tick(now time.Time) {
	if !r.ruStarted && !now.Before(r.c.windowStart) {
		r.startThreadCPU()
	}
	for !now.Before(r.secEnd) && r.secEnd.Sub(r.c.windowStart) <= r.c.windowEnd.Sub(r.c.windowStart)+time.Second {
		r.flushSecond()
	}
}

// untilTick is how long a loop may sleep before it must call tick again.
func (r *recorder) untilTick(now time.Time) time.Duration {
	if now.Before(r.c.windowStart) {
		return r.c.windowStart.Sub(now)
	}
	return r.secEnd.Sub(now)
}

// success records an answered request whose latency was d, read at now,
// and reports whether it was in the window.
func (r *recorder) success(now time.Time, d time.Duration, status int, bytes int) bool {
	if !r.measuring(now) {
		return false
	}
	us := d.Microseconds()
	if us < histMinUS {
		us = histMinUS
	} else if us > histMaxUS {
		us = histMaxUS
	}
	// Into this second's histogram only: the collector adds the seconds
	// up into the total.
	r.sec.record(us)
	r.requests++
	r.secReq++
	r.bytesRead += int64(bytes)
	r.secByte += int64(bytes)
	if status >= 0 && status < len(r.statuses) {
		r.statuses[status]++
	}
	return true
}

// serverClosed records a connection the server closed after a complete
// answer.
func (r *recorder) serverClosed(now time.Time) {
	if r.measuring(now) {
		r.serverCloses++
	}
}

// reconnected records a connection opened in place of an earlier one.
func (r *recorder) reconnected(now time.Time) {
	if r.measuring(now) {
		r.reconnects++
	}
}

// lateSlack is how far behind its schedule a paced request may leave
// before it counts as late.
const lateSlack = time.Millisecond

// sent records that a paced request due at due left at now.
func (r *recorder) sent(now, due time.Time) {
	if !r.measuring(now) {
		return
	}
	r.paced++
	if now.Sub(due) > lateSlack {
		r.late++
	}
}

// fail records a failed request of the given kind; cause says what went
// wrong, and the first of each kind is kept.
func (r *recorder) fail(now time.Time, kind failureKind, cause error) {
	if !r.measuring(now) {
		return
	}
	*r.errors.counter(kind)++
	r.secErr++
	if r.causes[kind] == nil {
		r.causes[kind] = cause
	}
}

// abandoned records n requests still in flight when the window closed at
// closed (its end, or the interruption), which the engine then cancels. A
// window closed before it began, during the warm-up, has none.
func (r *recorder) abandoned(closed time.Time, n int) {
	if closed.Before(r.c.windowStart) {
		return
	}
	r.unfinished += int64(n)
}

// badStatus records an answer whose status was not the expected one.
func (r *recorder) badStatus(now time.Time, status int, bytes int) {
	if !r.measuring(now) {
		return
	}
	r.errors.Status++
	r.secErr++
	r.bytesRead += int64(bytes)
	r.secByte += int64(bytes)
	if status >= 0 && status < len(r.statuses) {
		r.statuses[status]++
	}
}

// wrote records bytes written (stream mode's measure).
func (r *recorder) wrote(now time.Time, n int) {
	if !r.measuring(now) {
		return
	}
	r.bytesWritten += int64(n)
	r.secByte += int64(n)
}

// flushSecond hands the second being filled to the collector, its
// histogram with it, and starts the next.
func (r *recorder) flushSecond() {
	c := r.c
	c.mu.Lock()
	p := c.pending[r.next]
	if p == nil {
		p = &pendingSecond{idx: r.next, s: Second{T: float64(r.next)}}
		c.pending[r.next] = p
	}
	if r.sec.total > 0 {
		p.hists = append(p.hists, r.sec)
		r.sec = c.histLocked()
	}
	p.s.Requests += r.secReq
	p.s.Errors += r.secErr
	p.s.Bytes += r.secByte
	p.reports++
	if c.isComplete(r.next, p) {
		c.completeLocked(p)
	}
	c.mu.Unlock()
	r.secReq, r.secErr, r.secByte = 0, 0, 0
	r.next++
	r.secEnd = r.secEnd.Add(time.Second)
}

// isComplete reports whether second idx has every report it will get:
// one from each loop, except loops that finished before reaching it.
func (c *collector) isComplete(idx int, p *pendingSecond) bool {
	n := p.reports
	for _, f := range c.finished {
		if f.next <= idx {
			n++
		}
	}
	return n == c.loops
}

// completeLocked queues a second every loop has reported for encode,
// starting it with the first.
func (c *collector) completeLocked(p *pendingSecond) {
	delete(c.pending, p.idx)
	c.queue = append(c.queue, p)
	c.unsent++
	if c.encoded == nil {
		c.wake = make(chan struct{}, 1)
		c.encoded = make(chan struct{})
		go c.encode()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// encode is the collector's goroutine: it merges each completed second's
// histograms, adds them to the total, encodes the second into the series
// (its histogram into the spill), hands it to Progress and recycles the
// histograms, until the collector closes.
func (c *collector) encode() {
	defer close(c.encoded)
	for {
		c.mu.Lock()
		batch, closing := c.queue, c.closing
		c.queue = nil
		c.mu.Unlock()
		for _, p := range batch {
			c.encodeSecond(p)
		}
		if len(batch) == 0 {
			if closing {
				return
			}
			<-c.wake
		}
	}
}

func (c *collector) encodeSecond(p *pendingSecond) {
	// A second that began after the window closed holds nothing.
	inWindow := c.windowStart.Add(time.Duration(p.idx) * time.Second).Before(c.windowEnd)
	var h *secHist
	if len(p.hists) > 0 {
		h = p.hists[0]
		for _, o := range p.hists[1:] {
			h.add(o)
		}
		h.addTo(c.total)
	}
	// The spill, the encoder and the scratch histogram are encode's alone
	// (and result's, once it is done).
	kept, ref := p.s, histRef{}
	if inWindow && h != nil && h.total > 0 {
		if c.scratch == nil {
			c.scratch = newHistogram()
		}
		c.scratch.Reset()
		h.addTo(c.scratch)
		p.s.P50US = float64(c.scratch.ValueAtPercentile(50))
		p.s.P99US = float64(c.scratch.ValueAtPercentile(99))
		p.s.MaxUS = float64(c.scratch.Max())
		kept = p.s
		if enc, err := c.enc.encodeSecond(h); err == nil {
			if !c.spillTried {
				c.spill, c.spillTried = newHistSpill(), true
			}
			spilled := false
			if c.spill != nil {
				ref, spilled = c.spill.put(enc)
				ref.t = p.s.T
			}
			if !spilled || c.progress != nil {
				p.s.Hist = string(enc)
			}
			if !spilled {
				kept.Hist = p.s.Hist
			}
		}
	}
	for _, o := range p.hists {
		o.reset()
	}
	c.mu.Lock()
	// Two spare histograms a loop cover the second being encoded and the
	// next; more are left to the garbage collector, so that seconds
	// queued up while encode was slow do not stay as idle memory.
	for _, o := range p.hists {
		if len(c.free) < 2*c.loops {
			c.free = append(c.free, o)
		}
	}
	c.unsent--
	if inWindow {
		c.series = append(c.series, kept)
		c.spilled = append(c.spilled, ref)
	}
	c.mu.Unlock()
	if inWindow && c.progress != nil {
		c.progress(p.s)
	}
}

// close ends encode once it has encoded every second queued, and waits
// for it; every recorder has finished by then.
func (c *collector) close() {
	c.mu.Lock()
	c.closing = true
	encoded := c.encoded
	if encoded != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	if encoded != nil {
		<-encoded
	}
}

// finish is a loop's last call: it closes its seconds up to the window's
// end and hands over its totals. A loop that stops early (interrupted)
// still reports every second, so none waits for it forever.
func (r *recorder) finish(end time.Time) {
	r.stopThreadCPU(end)
	lastEnd := r.c.windowEnd
	if end.Before(lastEnd) {
		lastEnd = end
	}
	for r.secEnd.Before(lastEnd.Add(time.Second)) && r.c.windowStart.Add(time.Duration(r.next)*time.Second).Before(lastEnd) {
		r.flushSecond()
	}
	c := r.c
	c.mu.Lock()
	c.finished = append(c.finished, r)
	// Seconds the others reported, waiting only for this loop, are
	// complete now, in order.
	var done []*pendingSecond
	for idx, p := range c.pending {
		if c.isComplete(idx, p) {
			done = append(done, p)
		}
	}
	slices.SortFunc(done, func(a, b *pendingSecond) int { return cmp.Compare(a.idx, b.idx) })
	for _, p := range done {
		c.completeLocked(p)
	}
	c.mu.Unlock()
}

// startThreadCPU samples the CPU of the calling thread; loops that lock
// their OS thread get an exact per-loop busy fraction from it.
func (r *recorder) startThreadCPU() {
	r.ruStarted = unix.Getrusage(unix.RUSAGE_THREAD, &r.ruStart) == nil
	if r.enters != nil {
		r.entersStart = *r.enters
	}
}

func (r *recorder) stopThreadCPU(end time.Time) {
	if !r.ruStarted {
		return
	}
	if r.enters != nil {
		r.ringEnters = *r.enters - r.entersStart
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return
	}
	used := tvDur(ru.Utime) - tvDur(r.ruStart.Utime) + tvDur(ru.Stime) - tvDur(r.ruStart.Stime)
	if wall := end.Sub(r.c.windowStart); wall > 0 {
		r.threadBusy = float64(used) / float64(wall)
	}
}

func tvDur(tv unix.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// processCPU is the process's user and system time so far.
func processCPU() (user, sys time.Duration) {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return tvDur(ru.Utime), tvDur(ru.Stime)
}

// availableCPUs is the number of CPUs this process may run on.
func availableCPUs() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil && set.Count() > 0 {
		return set.Count()
	}
	return runtime.NumCPU()
}

// result assembles the Result once every recorder has finished.
func (c *collector) result(o Options, end time.Time) (*Result, error) {
	c.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Result{
		FormatVersion: FormatVersion, Mode: o.Mode, URL: o.URL,
		Connections: o.Connections, Threads: o.Threads, Close: o.Close, Rate: o.Rate, SuccessStatus: o.Status,
		Start: c.windowStart.Add(-o.Warmup), Warmup: o.Warmup.Seconds(),
		LatencyKind: ResponseTime,
	}
	// The seconds complete in about their order; their places in the
	// spill go with them.
	order := make([]int, len(c.series))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(c.series[a].T, c.series[b].T) })
	if len(order) > 0 {
		r.Series = make([]Second, len(order))
		r.spilled = make([]histRef, len(order))
		for i, j := range order {
			r.Series[i], r.spilled[i] = c.series[j], c.spilled[j]
		}
		r.spill = c.spill
	}
	if o.Pipeline > 1 {
		r.Pipeline = o.Pipeline
	}
	if o.IO == IOUring {
		r.IO = o.IO
	}
	if o.Mode == Open {
		r.Pacer = o.Pacer
	}
	switch {
	case o.Mode == Stream:
		r.LatencyKind = NoLatency
	case o.Mode == Closed && o.Rate > 0:
		// Open mode sends on schedule whatever the answers, so its
		// response times need no correction while it keeps up (Behind
		// says when it did not).
		r.LatencyKind = Corrected
	}
	windowEnd := c.windowEnd
	if end.Before(windowEnd) {
		windowEnd = end
		// Unless the request budget ended it (below).
		r.Interrupted = true
	}
	if d := windowEnd.Sub(c.windowStart); d > 0 {
		r.Duration = d.Seconds()
	}
	h := c.total
	var paced, late int64
	var perConn []int64
	for _, rec := range c.finished {
		paced += rec.paced
		late += rec.late
		r.ServerCloses += rec.serverCloses
		r.Reconnects += rec.reconnects
		perConn = append(perConn, rec.perConn...)
		r.Requests += rec.requests
		r.BytesRead += rec.bytesRead
		r.BytesWritten += rec.bytesWritten
		r.Errors.add(rec.errors)
		for k, cause := range rec.causes {
			r.addCause(failureKind(k).String(), cause)
		}
		r.Unfinished += rec.unfinished
		for code, n := range rec.statuses {
			if n > 0 {
				if r.Statuses == nil {
					r.Statuses = map[int]int{}
				}
				r.Statuses[code] += int(n)
			}
		}
		r.Client.Busiest = max(r.Client.Busiest, rec.threadBusy)
		r.Client.RingEnters += rec.ringEnters
	}
	if o.MaxRequests > 0 && r.Requests+r.Errors.Total() >= o.MaxRequests {
		r.Interrupted = false
	}
	r.Client.Hosts = 1
	r.Fairness = newFairness(perConn)
	if paced > 0 {
		r.Client.Behind = float64(late) / float64(paced)
	}
	if err := r.setHistogram(h, &c.enc); err != nil {
		return nil, err
	}
	return r, nil
}
