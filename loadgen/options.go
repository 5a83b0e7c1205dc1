// Package loadgen is sockbench's load generator: a closed-loop engine of its
// own (wrk's model, optionally paced with wrk2's coordinated-omission
// correction), an open-loop engine on vegeta's attacker and pacers, and a raw
// TCP stream engine. Run drives one attack and returns a Result; Results
// from several processes or machines merge exactly because they carry
// histograms, not percentiles.
package loadgen

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Mode is the load model of an attack.
type Mode string

const (
	// Closed: each connection sends its next request when the previous
	// answer has been read (wrk).
	Closed Mode = "closed"
	// Open: requests leave at a set rate whatever the server does (vegeta).
	Open Mode = "open"
	// Stream: raw TCP, every connection writes fixed-size chunks as fast as
	// it can to a server that reads and discards them.
	Stream Mode = "stream"
)

// Modes lists the modes in the order help texts show them.
var Modes = []Mode{Closed, Open, Stream}

// Pacer names an open-loop rate shape.
type Pacer string

const (
	PacerConstant Pacer = "constant"
	PacerLinear   Pacer = "linear"
	PacerSine     Pacer = "sine"
)

// Pacers lists the open-loop rate shapes.
var Pacers = []Pacer{PacerConstant, PacerLinear, PacerSine}

// Defaults, chosen to match wrk where wrk has the same knob.
const (
	DefaultConnections = 10
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 2 * time.Second
	DefaultChunkSize   = 16 << 10
	DefaultStatus      = 200
)

// Header is one request header line.
type Header struct {
	Name, Value string
}

// ParseHeader reads a "Name: value" flag value.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return Header{}, fmt.Errorf("header %q: want \"Name: value\" with a name of no spaces and a value on one line", s)
	}
	return Header{Name: name, Value: strings.TrimSpace(value)}, nil
}

// Options describe one attack. The zero value of every field but URL means
// its default.
type Options struct {
	// URL is http://host:port/path (closed, open) or tcp://host:port or
	// http://host:port (stream).
	URL  string
	Mode Mode
	// Connections is the number of TCP connections (closed, stream) or the
	// most connections vegeta may open (open).
	Connections int
	// Threads is the number of event loops, each on an OS thread of its
	// own; the connections are spread over them. Default: one per CPU the
	// process may run on, at most Connections.
	Threads int
	// Duration is the measured window; Warmup runs before it, its
	// requests neither counted nor timed.
	Duration time.Duration
	Warmup   time.Duration
	// Timeout bounds a connect and each response; a request that exceeds
	// it counts as a timeout error and its connection is replaced.
	Timeout time.Duration
	// Close opens a new connection for every request (closed mode).
	Close bool
	// Pipeline sends this many requests per round trip (closed mode).
	Pipeline int
	// Rate in requests per second: in closed mode, constant-throughput
	// pacing with coordinated-omission correction (0 = as fast as
	// possible); in open mode the starting rate, required.
	Rate float64
	// Pacer shapes the open-mode rate: constant at Rate; linear from Rate
	// to RateTo over the whole attack; sine around Rate with amplitude
	// Amplitude and period Period.
	Pacer     Pacer
	RateTo    float64
	Amplitude float64
	Period    time.Duration
	// Method and Headers make up the request; Host, and Connection: close
	// with Close, are added unless given.
	Method  string
	Headers []Header
	// Status is the status code a response needs to count as a success.
	Status int
	// ChunkSize is the size of every write in stream mode.
	ChunkSize int
	// MaxRequests stops the attack after this many answered requests in
	// the measured window, before Duration if it comes first (0: no limit).
	MaxRequests int64
	// Progress, when set, receives each second of the measured window as
	// it completes, from a goroutine of the engine; it must not block.
	Progress func(Second)
	// VegetaResults, in open mode, receives every result in vegeta's own
	// gob encoding, for `vegeta report` and `vegeta plot`. This is the one
	// option whose memory and disk grow with the length of the run.
	VegetaResults io.Writer
}

// withDefaults fills in the defaults and checks every option, so that an
// engine starts only on a plan it can carry out.
func (o Options) withDefaults() (Options, *url.URL, error) {
	if o.Mode == "" {
		o.Mode = Closed
	}
	switch o.Mode {
	case Closed, Open, Stream:
	default:
		return o, nil, fmt.Errorf("mode %q: want one of closed, open, stream", o.Mode)
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return o, nil, fmt.Errorf("URL %q: %v", o.URL, err)
	}
	switch {
	case u.Scheme == "https":
		return o, nil, fmt.Errorf("URL %q: https is not supported; sockbench measures plain HTTP/1.1", o.URL)
	case u.Scheme == "tcp" && o.Mode != Stream:
		return o, nil, fmt.Errorf("URL %q: tcp:// is for --mode stream; use http://", o.URL)
	case u.Scheme != "http" && u.Scheme != "tcp":
		return o, nil, fmt.Errorf("URL %q: want http://host:port/path", o.URL)
	case u.Host == "":
		return o, nil, fmt.Errorf("URL %q has no host", o.URL)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if u.Port() == "" {
		if u.Scheme == "tcp" {
			return o, nil, fmt.Errorf("URL %q: tcp:// needs a port", o.URL)
		}
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	if o.Connections == 0 {
		o.Connections = DefaultConnections
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Pipeline == 0 {
		o.Pipeline = 1
	}
	if o.Method == "" {
		o.Method = "GET"
	}
	if o.Status == 0 {
		o.Status = DefaultStatus
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.Pacer == "" {
		o.Pacer = PacerConstant
	}
	if o.Threads == 0 {
		o.Threads = min(availableCPUs(), o.Connections)
	}
	switch {
	case o.Connections < 0:
		return o, nil, fmt.Errorf("connections %d: must be at least 1", o.Connections)
	case o.Threads < 0:
		return o, nil, fmt.Errorf("threads %d: must be at least 1", o.Threads)
	case o.Threads > o.Connections && o.Mode != Open:
		return o, nil, fmt.Errorf("threads %d exceed connections %d: every event loop needs a connection", o.Threads, o.Connections)
	case o.Duration < 0 || o.Warmup < 0 || o.Timeout < 0:
		return o, nil, fmt.Errorf("duration, warmup and timeout must not be negative")
	case o.Pipeline < 1:
		return o, nil, fmt.Errorf("pipeline %d: must be at least 1", o.Pipeline)
	case o.Pipeline > 1 && o.Close:
		return o, nil, fmt.Errorf("pipeline %d with close: a connection that closes after one answer cannot pipeline", o.Pipeline)
	case o.Pipeline > 1 && o.Rate > 0:
		return o, nil, fmt.Errorf("pipeline with rate: paced requests leave one at a time; choose one")
	case o.Rate < 0 || o.RateTo < 0 || o.Amplitude < 0:
		return o, nil, fmt.Errorf("rates must not be negative")
	case o.Mode == Open && o.Rate == 0:
		return o, nil, fmt.Errorf("open mode needs --rate: it sends at a set rate whatever the server does")
	case o.Mode == Stream && (o.Rate > 0 || o.Pipeline > 1 || o.Close):
		return o, nil, fmt.Errorf("stream mode writes raw bytes as fast as it can: rate, pipeline and close do not apply")
	case o.Mode != Open && (o.Pacer != PacerConstant || o.RateTo > 0 || o.Amplitude > 0 || o.Period > 0):
		return o, nil, fmt.Errorf("pacers (linear, sine) shape open-mode rates; use --mode open")
	case o.ChunkSize < 1:
		return o, nil, fmt.Errorf("chunk size %d: must be at least 1 byte", o.ChunkSize)
	case o.Status < 100 || o.Status > 599:
		return o, nil, fmt.Errorf("expected status %d is not an HTTP status code", o.Status)
	case o.MaxRequests < 0:
		return o, nil, fmt.Errorf("max requests %d: must not be negative", o.MaxRequests)
	case o.VegetaResults != nil && o.Mode != Open:
		return o, nil, fmt.Errorf("vegeta-encoded results come from open mode only")
	}
	switch o.Pacer {
	case PacerConstant:
	case PacerLinear:
		if o.RateTo == 0 {
			return o, nil, fmt.Errorf("the linear pacer needs --rate-to, the rate it ramps to")
		}
	case PacerSine:
		if o.Period <= 0 || o.Amplitude == 0 || o.Amplitude >= o.Rate {
			return o, nil, fmt.Errorf("the sine pacer needs --period > 0 and 0 < --amplitude < --rate")
		}
	default:
		return o, nil, fmt.Errorf("pacer %q: want one of constant, linear, sine", o.Pacer)
	}
	if o.Method == "" || strings.IndexFunc(o.Method, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }) >= 0 {
		return o, nil, fmt.Errorf("method %q is not an HTTP token", o.Method)
	}
	for _, h := range o.Headers {
		if _, err := ParseHeader(h.Name + ": " + h.Value); err != nil {
			return o, nil, err
		}
	}
	return o, u, nil
}
