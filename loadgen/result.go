package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/internal/atomicfile"
)

// FormatVersion is the version of the Result JSON; readers refuse others.
const FormatVersion = 1

// The latency range every histogram covers, in microseconds, at three
// significant digits: identical everywhere so any two merge.
const (
	histMinUS  = 1
	histMaxUS  = 60_000_000
	histDigits = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinUS, histMaxUS, histDigits)
}

// LatencyKind says what a result's latencies measure.
type LatencyKind string

const (
	// ResponseTime: measured response times. The closed engine reads the
	// clock once per wake-up of its event loop: a request's latency runs
	// from the wake-up in which it was sent (for a connection's next
	// request, the one that read the previous answer; with Close, before
	// its connection is opened) to the wake-up in which its answer
	// arrived, so a connection's latencies tile the window and include
	// the loop's own work between answer and request. wrk instead starts
	// the clock in its write callback, an event-loop turn after the
	// answer, and stops it when the answer is parsed. The open engine's
	// are vegeta's: from just before the request to the end of its body.
	ResponseTime LatencyKind = "response-time"
	// Corrected: from the moment a paced request was due to be sent, so a
	// server stall also delays, and shows in, the requests queued behind it
	// (coordinated-omission correction, wrk2's model); a request sent early,
	// with an earlier one's wake-up, from when it left. The closed engine
	// stops the clock at the kernel's stamp of the answer's arrival
	// (pace.go), not at the wake-up that reads it.
	Corrected LatencyKind = "corrected"
	// NoLatency: stream mode measures throughput only.
	NoLatency LatencyKind = "none"
)

// Errors counts failed requests by kind. A request counts once, under the
// first thing that went wrong with it.
type Errors struct {
	Connect   int64 `json:"connect"`
	Read      int64 `json:"read"`
	Write     int64 `json:"write"`
	Timeout   int64 `json:"timeout"`
	Status    int64 `json:"status"`
	Malformed int64 `json:"malformed"`
}

// Total is the number of failed requests.
func (e Errors) Total() int64 {
	return e.Connect + e.Read + e.Write + e.Timeout + e.Status + e.Malformed
}

func (e *Errors) add(o Errors) {
	e.Connect += o.Connect
	e.Read += o.Read
	e.Write += o.Write
	e.Timeout += o.Timeout
	e.Status += o.Status
	e.Malformed += o.Malformed
}

// failureKind names the counter of Errors that a failed request adds to.
// An answer with the wrong status is not among them: it is an answer, and
// is counted with it (recorder.badStatus).
type failureKind uint8

const (
	failConnect failureKind = iota
	failRead
	failWrite
	failTimeout
	failMalformed
	failureKinds // how many there are
)

// String is the kind's name in Errors' JSON and in ErrorCauses.
func (k failureKind) String() string {
	return [...]string{"connect", "read", "write", "timeout", "malformed"}[k]
}

// counter is the count in e that a failure of kind k adds to.
func (e *Errors) counter(k failureKind) *int64 {
	switch k {
	case failConnect:
		return &e.Connect
	case failRead:
		return &e.Read
	case failWrite:
		return &e.Write
	case failTimeout:
		return &e.Timeout
	}
	return &e.Malformed
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	MinUS    float64 `json:"min_us"`
	MeanUS   float64 `json:"mean_us"`
	StdevUS  float64 `json:"stdev_us"`
	P50US    float64 `json:"p50_us"`
	P75US    float64 `json:"p75_us"`
	P90US    float64 `json:"p90_us"`
	P99US    float64 `json:"p99_us"`
	P999US   float64 `json:"p99_9_us"`
	P9999US  float64 `json:"p99_99_us"`
	MaxUS    float64 `json:"max_us"`
	Recorded int64   `json:"recorded"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtPercentile(p)) }
	return Latency{
		MinUS: float64(h.Min()), MeanUS: h.Mean(), StdevUS: h.StdDev(),
		P50US: q(50), P75US: q(75), P90US: q(90), P99US: q(99), P999US: q(99.9), P9999US: q(99.99),
		MaxUS: float64(h.Max()), Recorded: h.TotalCount(),
	}
}

// Second is one second of the measured window.
type Second struct {
	// T is the second's start, in seconds since the window began.
	T        float64 `json:"t"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// Bytes read (closed, open) or written (stream) in this second.
	Bytes int64   `json:"bytes"`
	P50US float64 `json:"p50_us"`
	P99US float64 `json:"p99_us"`
	MaxUS float64 `json:"max_us"`
	// Hist is the second's latency histogram, encoded, so that seconds
	// from several generators merge exactly. In a Result fresh from Run it
	// is empty: the histograms are kept out of memory until written
	// (WriteFile, json.Marshal); Result.SecondHistogram reads one.
	Hist string `json:"hist,omitempty"`
}

// Slowest is the rate of one second of the window.
type Slowest struct {
	// T is the second's start, as in Series.
	T            float64 `json:"t"`
	RequestsPerS float64 `json:"requests_per_sec"`
	BytesPerS    float64 `json:"bytes_per_sec"`
}

// slowestSecond finds the second of r.Series with the least throughput:
// bytes/s in stream mode, answered requests/s otherwise. Only whole
// seconds compete (the tail of a window that is not whole seconds, or of
// an interrupted one, holds too little to compare), unless the window is
// shorter than one.
func (r *Result) slowestSecond() *Slowest {
	var slowest *Slowest
	rate := func(s *Slowest) float64 {
		if r.Mode == Stream {
			return s.BytesPerS
		}
		return s.RequestsPerS
	}
	for _, sec := range r.Series {
		span := min(1, r.Duration-sec.T)
		if span <= 0 || span < 1 && r.Duration >= 1 {
			continue
		}
		s := &Slowest{T: sec.T, RequestsPerS: float64(sec.Requests) / span, BytesPerS: float64(sec.Bytes) / span}
		if slowest == nil || rate(s) < rate(slowest) {
			slowest = s
		}
	}
	return slowest
}

// Client is what the generator itself used while it measured.
type Client struct {
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	// CPUPerRequestUS is the generator's own CPU per answered request.
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	// Busiest is the largest fraction of the window any one event loop (or,
	// in open mode, the process per usable CPU) spent on a CPU.
	Busiest float64 `json:"busiest"`
	// Behind is the fraction of paced requests that left later than their
	// schedule (open mode, closed mode with a rate).
	Behind float64 `json:"behind,omitempty"`
	Hosts  int     `json:"hosts"`
	// RingEnters counts the io_uring_enter calls of the loops across the
	// window (--io uring): how far batching brought the generator's
	// kernel entries below epoll's write and read per request.
	RingEnters uint64 `json:"ring_enters,omitempty"`
}

// SaturationThreshold is the busy fraction above which a generator loop is
// taken to have been the limit.
const SaturationThreshold = 0.9

// Result is everything one attack (or a merge of several) measured.
type Result struct {
	FormatVersion int    `json:"format_version"`
	Mode          Mode   `json:"mode"`
	URL           string `json:"url"`
	Connections   int    `json:"connections"`
	Threads       int    `json:"threads"`
	Close         bool   `json:"close,omitempty"`
	Pipeline      int    `json:"pipeline,omitempty"`
	// IO is the closed loop's I/O when it was not epoll (--io).
	IO          IO        `json:"io,omitempty"`
	Rate        float64   `json:"rate,omitempty"`
	Pacer       Pacer     `json:"pacer,omitempty"`
	Start       time.Time `json:"start"`
	Duration    float64   `json:"duration_seconds"`
	Warmup      float64   `json:"warmup_seconds"`
	Interrupted bool      `json:"interrupted,omitempty"`
	// Requests counts the successes: requests answered, in the window,
	// with SuccessStatus; RequestsPerS is their rate, the measure the
	// runner and the reports compare. Answered adds the answers of any
	// other status (Errors.Status), which is what wrk counts.
	Requests     int64   `json:"requests"`
	RequestsPerS float64 `json:"requests_per_sec"`
	// BytesRead is the size on the wire of every response answered in
	// the window, whatever its status: status line, headers and body
	// with its framing, in every mode, as wrk's Transfer/sec counts it.
	// BytesWritten is stream mode's measure; BytesPerS is either per
	// second.
	BytesRead    int64   `json:"bytes_read"`
	BytesWritten int64   `json:"bytes_written"`
	BytesPerS    float64 `json:"bytes_per_sec"`
	Errors       Errors  `json:"errors"`
	// ErrorCauses holds, by the kind's name in Errors, the first error
	// of that kind in the system's or the parser's words ("connect: too
	// many open files"), so that a count comes with its reason.
	ErrorCauses map[string]string `json:"error_causes,omitempty"`
	// SuccessStatus is the status code that counted as success (the
	// --status option); Statuses counts every answer by its status.
	SuccessStatus int         `json:"success_status,omitempty"`
	Statuses      map[int]int `json:"statuses,omitempty"`
	LatencyKind   LatencyKind `json:"latency_kind"`
	Latency       Latency     `json:"latency"`
	// Unfinished counts the requests still in flight when the window
	// closed: sent, neither answered nor failed by then, and cancelled so
	// that the attack ends on time. They are neither successes nor errors
	// of the server.
	Unfinished int64 `json:"unfinished,omitempty"`
	// ServerCloses counts the connections the server closed after a
	// complete answer (thread post #5: the servers that closed after
	// every answer, which wrk counts as read errors): each was reopened
	// and a request the close caught unsent was sent again, so they are
	// no errors. Reconnects counts the connections opened in the window in
	// place of an earlier one, for whatever reason: reconnects per request
	// is the churn the backlog and accept experiments measure (posts
	// #16-#19).
	ServerCloses int64 `json:"server_closes"`
	Reconnects   int64 `json:"reconnects"`
	// Fairness is how evenly the answers were spread over the
	// connections of closed mode; absent when nothing was answered, in
	// stream mode, and in open mode, whose connections are net/http's
	// pool handing each request to whichever is idle, not clients the
	// server may favour.
	Fairness *Fairness `json:"fairness,omitempty"`
	// LatencyHistogram is the encoded HdrHistogram of every latency, in µs.
	LatencyHistogram string   `json:"latency_histogram"`
	Series           []Second `json:"series"`
	// Slowest is the second of Series with the least throughput: a
	// window's average hides a server that froze for part of it, its
	// slowest second does not. Derived from Series; absent when it is
	// empty.
	Slowest *Slowest `json:"slowest_second,omitempty"`
	Client  Client   `json:"client"`
	// Saturated flags a result where the generator, not the server, was
	// the limit (a loop busier than SaturationThreshold, or paced requests
	// leaving late).
	Saturated bool `json:"saturated"`
	// Agents are each agent's share of a distributed attack (the
	// coordinator's merge); absent for an attack from one machine.
	Agents []AgentFigures `json:"agents,omitempty"`
	// LostAgents are the agents of a distributed attack lost once it had
	// started, and why: the result is then partial, what the others (in
	// Agents) measured until they were stopped.
	LostAgents []LostAgent `json:"lost_agents,omitempty"`

	hist *hdrhistogram.Histogram
	// spill holds the histograms of Series left empty, at spilled (same
	// index, as Run returned the series); nil when every second carries
	// its own.
	spill   *histSpill
	spilled []histRef
}

// Answered is the number of requests answered in the window, whatever
// their status: wrk's count of requests.
func (r *Result) Answered() int64 { return r.Requests + r.Errors.Status }

// successStatus is the status that counted as success, for results
// written before they said.
func (r *Result) successStatus() int {
	if r.SuccessStatus == 0 {
		return DefaultStatus
	}
	return r.SuccessStatus
}

// addCause keeps cause as the cause of errors of kind unless one is kept.
func (r *Result) addCause(kind string, cause error) {
	if cause == nil {
		return
	}
	if _, ok := r.ErrorCauses[kind]; ok {
		return
	}
	if r.ErrorCauses == nil {
		r.ErrorCauses = map[string]string{}
	}
	r.ErrorCauses[kind] = cause.Error()
}

// Histogram returns the decoded latency histogram.
func (r *Result) Histogram() (*hdrhistogram.Histogram, error) {
	if r.hist != nil {
		return r.hist, nil
	}
	if r.LatencyHistogram == "" {
		r.hist = newHistogram()
		return r.hist, nil
	}
	h, err := hdrhistogram.Decode([]byte(r.LatencyHistogram))
	if err != nil {
		return nil, fmt.Errorf("latency histogram does not decode: %w", err)
	}
	r.hist = h
	return h, nil
}

// setHistogram stores h and everything derived from it, encoded by e.
func (r *Result) setHistogram(h *hdrhistogram.Histogram, e *histEncoder) error {
	enc, err := e.encode(h)
	if err != nil {
		return fmt.Errorf("encoding the latency histogram: %w", err)
	}
	r.hist = h
	r.LatencyHistogram = string(enc)
	r.Latency = summarize(h)
	return nil
}

// finish derives the rates, the slowest second and the saturation flag
// from the counts.
func (r *Result) finish() {
	r.Slowest = r.slowestSecond()
	if r.Duration > 0 {
		r.RequestsPerS = float64(r.Requests) / r.Duration
		r.BytesPerS = float64(r.BytesRead+r.BytesWritten) / r.Duration
	}
	if r.Requests > 0 {
		r.Client.CPUPerRequestUS = (r.Client.UserSeconds + r.Client.SysSeconds) * 1e6 / float64(r.Requests)
	}
	r.Saturated = r.Client.Busiest > SaturationThreshold || r.Client.Behind > 0.01
}

// secondHist is second i's encoded histogram, from memory or the spill.
func (r *Result) secondHist(i int) (string, error) {
	if h := r.Series[i].Hist; h != "" {
		return h, nil
	}
	q, err := r.secondHistInto(i, nil)
	if err != nil || len(q) == 0 {
		return "", err
	}
	return string(q[1 : len(q)-1]), nil
}

// secondHistInto is secondHist as a JSON string, in buf's room: the
// base64 of an encoded histogram needs no escaping. Empty if the second
// has none.
func (r *Result) secondHistInto(i int, buf []byte) ([]byte, error) {
	buf = buf[:0]
	if h := r.Series[i].Hist; h != "" || r.spill == nil || i >= len(r.spilled) || r.spilled[i].n == 0 {
		if h == "" {
			return buf, nil
		}
		return append(append(append(buf, '"'), h...), '"'), nil
	}
	ref := r.spilled[i]
	if ref.t != r.Series[i].T {
		return nil, fmt.Errorf("second %g: its histogram was kept for second %g (was the series reordered?)", r.Series[i].T, ref.t)
	}
	buf = append(buf, '"')
	buf, err := r.spill.appendTo(buf, ref)
	if err != nil {
		return nil, fmt.Errorf("second %g: reading its histogram back: %w", r.Series[i].T, err)
	}
	return append(buf, '"'), nil
}

// SecondHistogram decodes the latency histogram of Series[i] (empty for a
// second without latencies).
func (r *Result) SecondHistogram(i int) (*hdrhistogram.Histogram, error) {
	enc, err := r.secondHist(i)
	if err != nil || enc == "" {
		return newHistogram(), err
	}
	h, err := hdrhistogram.Decode([]byte(enc))
	if err != nil {
		return nil, fmt.Errorf("second %g: histogram does not decode: %w", r.Series[i].T, err)
	}
	return h, nil
}

// WriteFile stores r as JSON, atomically: a reader sees the old file or the
// whole new one, never a part. The seconds are written one at a time, so
// a long run's file never is in memory whole.
func (r *Result) WriteFile(path string) error {
	return atomicfile.WriteWith(path, r.Encode)
}

// Encode writes r to w as WriteFile stores it, for a pipe.
func (r *Result) Encode(w io.Writer) error {
	if err := r.writeJSON(w, "  "); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// MarshalJSON writes r with every second's histogram, as WriteFile does,
// so that a Result marshalled by someone else (an agent's report, the
// runner's stored results) loses none.
func (r Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := r.writeJSON(&b, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plainResult is Result without its methods, for writeJSON to marshal.
type plainResult Result

// seriesMark stands in for the series in the JSON writeJSON marshals
// first; being the last field, it is the last string of that JSON.
const seriesMark = `"series: written second by second"`

// writeJSON writes r as JSON, indented by indent (none if empty): the
// fields but the series marshalled at once, then the seconds one by one,
// each with its histogram read back from the spill.
func (r *Result) writeJSON(w io.Writer, indent string) error {
	head := struct {
		*plainResult
		Series json.RawMessage `json:"series"`
	}{(*plainResult)(r), json.RawMessage(seriesMark)}
	var data []byte
	var err error
	if indent == "" {
		data, err = json.Marshal(head)
	} else {
		data, err = json.MarshalIndent(head, "", indent)
	}
	if err != nil {
		return err
	}
	at := bytes.LastIndex(data, []byte(seriesMark))
	if at < 0 {
		return errors.New("encoding the result: the series' place is missing")
	}
	if _, err := w.Write(data[:at]); err != nil {
		return err
	}
	if err := r.writeSeries(w, indent); err != nil {
		return err
	}
	_, err = w.Write(data[at+len(seriesMark):])
	return err
}

// writeSeries writes the series as json.MarshalIndent would at the top
// level of the result, with next to no garbage however long it is: one
// encoder and two buffers for every second, its histogram read back into
// one of them.
func (r *Result) writeSeries(w io.Writer, indent string) error {
	if r.Series == nil {
		_, err := io.WriteString(w, "null")
		return err
	}
	open, sep, end := "[", ",", "]"
	if indent != "" && len(r.Series) > 0 {
		open, sep, end = "[\n"+indent+indent, ",\n"+indent+indent, "\n"+indent+"]"
	}
	if _, err := io.WriteString(w, open); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent(indent+indent, indent)
	// The second with its histogram as a JSON string read into hist.
	var sec struct {
		Second
		Hist json.RawMessage `json:"hist,omitempty"`
	}
	var hist []byte
	for i, s := range r.Series {
		var err error
		if hist, err = r.secondHistInto(i, hist); err != nil {
			return err
		}
		sec.Second, sec.Hist = s, nil
		if len(hist) > 0 {
			sec.Hist = hist
		}
		buf.Reset()
		if err := enc.Encode(&sec); err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, sep); err != nil {
				return err
			}
		}
		// Encode ends every value with a newline; MarshalIndent does not.
		if _, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, end)
	return err
}

// WriteHistogramLog stores the latency histogram in HdrHistogram's log
// format (readable by HdrHistogram's own tools, e.g. HistogramLogProcessor
// and the online plotter), atomically.
func (r *Result) WriteHistogramLog(path string) error {
	h, err := r.Histogram()
	if err != nil {
		return err
	}
	var buf bytesBuffer
	w := hdrhistogram.NewHistogramLogWriter(&buf)
	if err := w.OutputLogFormatVersion(); err != nil {
		return err
	}
	start := r.Start.UnixMilli()
	if err := w.OutputStartTime(start); err != nil {
		return err
	}
	if err := w.OutputLegend(); err != nil {
		return err
	}
	// The interval line as the log writer's OutputIntervalHistogram
	// writes it (a test holds it to that), with the encoding the result
	// already carries: the writer would encode the histogram again, with
	// a compressor of its own, most of a megabyte.
	startMs := start + int64(r.Warmup*1000)
	endMs := start + int64((r.Warmup+r.Duration)*1000)
	enc := r.LatencyHistogram
	if enc == "" {
		var e histEncoder
		b, err := e.encode(h)
		if err != nil {
			return err
		}
		enc = string(b)
	}
	fmt.Fprintf(&buf, "Tag=%s,%f,%f,%f,%s\n", r.LatencyKind, float64(startMs)/1000, float64(endMs-startMs)/1000,
		float64(h.Max())/hdrhistogram.MsToNsRatio, enc)
	return atomicfile.Write(path, buf.b)
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// ReadFile reads a Result written by WriteFile, checking that it is whole
// and of this version.
func ReadFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(data)) || err.Error() == "unexpected end of JSON input" {
			return nil, fmt.Errorf("%s is truncated: it ends after %d bytes in the middle of a value", path, len(data))
		}
		return nil, fmt.Errorf("%s is not a sockbench attack result: %v", path, err)
	}
	if r.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s has format version %d; this sockbench reads version %d", path, r.FormatVersion, FormatVersion)
	}
	if _, err := r.Histogram(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Slowest == nil {
		// A file from before results carried it.
		r.Slowest = r.slowestSecond()
	}
	return &r, nil
}

// Merge combines results of attacks that ran at the same time against the
// same target (the generators of a distributed run): counts add,
// histograms merge, seconds line up by wall-clock time, and the window is
// the longest of them. Percentiles are recomputed from the merged
// histograms, never averaged.
func Merge(results ...*Result) (*Result, error) {
	if len(results) == 0 {
		return nil, errors.New("merge: no results")
	}
	first := results[0]
	m := &Result{
		FormatVersion: FormatVersion, Mode: first.Mode, URL: first.URL, Close: first.Close,
		Pipeline: first.Pipeline, IO: first.IO, Pacer: first.Pacer, Start: first.Start, Warmup: first.Warmup,
		LatencyKind: first.LatencyKind, SuccessStatus: first.SuccessStatus,
	}
	h := newHistogram()
	// Every generator's connections, for an index of them all (nil once
	// one generator's are missing).
	perConn := []int64{}
	type sec struct {
		s Second
		h *hdrhistogram.Histogram
	}
	secs := map[int64]*sec{}
	for i, r := range results {
		if r.Mode != first.Mode || r.LatencyKind != first.LatencyKind {
			return nil, fmt.Errorf("merge: result %d is a %s/%s attack, result 1 a %s/%s one", i+1, r.Mode, r.LatencyKind, first.Mode, first.LatencyKind)
		}
		rh, err := r.Histogram()
		if err != nil {
			return nil, fmt.Errorf("merge: result %d: %w", i+1, err)
		}
		h.Merge(rh)
		if r.Start.Before(m.Start) {
			m.Start = r.Start
		}
		m.Duration = math.Max(m.Duration, r.Duration)
		m.Connections += r.Connections
		m.Threads += r.Threads
		m.Rate += r.Rate
		m.Interrupted = m.Interrupted || r.Interrupted
		m.Requests += r.Requests
		m.BytesRead += r.BytesRead
		m.BytesWritten += r.BytesWritten
		m.Errors.add(r.Errors)
		for kind, cause := range r.ErrorCauses {
			m.addCause(kind, errors.New(cause))
		}
		m.Unfinished += r.Unfinished
		m.ServerCloses += r.ServerCloses
		m.Reconnects += r.Reconnects
		switch {
		case r.Fairness != nil && perConn != nil:
			perConn = append(perConn, r.Fairness.PerConnection...)
		case r.Requests > 0:
			// One generator's connections unknown: an index of the
			// others would claim to be the whole attack's.
			perConn = nil
		}
		for code, n := range r.Statuses {
			if m.Statuses == nil {
				m.Statuses = map[int]int{}
			}
			m.Statuses[code] += n
		}
		m.Client.UserSeconds += r.Client.UserSeconds
		m.Client.SysSeconds += r.Client.SysSeconds
		m.Client.RingEnters += r.Client.RingEnters
		m.Client.Busiest = math.Max(m.Client.Busiest, r.Client.Busiest)
		m.Client.Behind = math.Max(m.Client.Behind, r.Client.Behind)
		m.Client.Hosts += max(r.Client.Hosts, 1)
		windowStart := r.Start.Add(time.Duration(r.Warmup * float64(time.Second))).Unix()
		for j, s := range r.Series {
			key := windowStart + int64(s.T)
			e := secs[key]
			if e == nil {
				e = &sec{h: newHistogram()}
				secs[key] = e
			}
			e.s.Requests += s.Requests
			e.s.Errors += s.Errors
			e.s.Bytes += s.Bytes
			enc, err := r.secondHist(j)
			if err != nil {
				return nil, fmt.Errorf("merge: result %d: %w", i+1, err)
			}
			if enc != "" {
				sh, err := hdrhistogram.Decode([]byte(enc))
				if err != nil {
					return nil, fmt.Errorf("merge: result %d second %g: histogram does not decode: %w", i+1, s.T, err)
				}
				e.h.Merge(sh)
			}
		}
	}
	// One encoder for the total and every second: each EncodeV2 would
	// make a compressor of its own.
	var enc histEncoder
	if err := m.setHistogram(h, &enc); err != nil {
		return nil, err
	}
	m.Fairness = newFairness(perConn)
	keys := make([]int64, 0, len(secs))
	for k := range secs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := secs[k]
		e.s.T = float64(k - keys[0])
		if err := e.s.setHistogram(e.h, &enc); err != nil {
			return nil, err
		}
		m.Series = append(m.Series, e.s)
	}
	m.finish()
	return m, nil
}

func (s *Second) setHistogram(h *hdrhistogram.Histogram, e *histEncoder) error {
	if h.TotalCount() == 0 {
		return nil
	}
	enc, err := e.encode(h)
	if err != nil {
		return err
	}
	s.Hist = string(enc)
	s.P50US = float64(h.ValueAtPercentile(50))
	s.P99US = float64(h.ValueAtPercentile(99))
	s.MaxUS = float64(h.Max())
	return nil
}
