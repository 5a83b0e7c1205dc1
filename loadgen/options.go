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
	"slices"
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

// IO is how the closed-loop engine does its I/O.
type IO string

const (
	// IOEpoll: non-blocking sockets, readiness from epoll, a system call
	// per read and per write (wrk's model).
	IOEpoll IO = "epoll"
	// IOUring: sends, receives and connects as io_uring operations, every
	// connection's of a loop iteration handed to the kernel in one
	// io_uring_enter, answers received by a multishot receive into a
	// provided buffer ring (issue #14).
	IOUring IO = "uring"
)

// IOs lists the I/O modes, the default first.
var IOs = []IO{IOEpoll, IOUring}

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

// Options describe one attack. The zero value of every field but URL
// means its default (but see CheckGiven).
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
	// it counts as a timeout error and its connection is replaced. In
	// stream mode it also bounds a write that makes no progress: a
	// connection whose writes stall that long counts once as a timeout
	// error, and is kept. Requests still in flight when the window closes
	// are cancelled, whatever their timeout, and counted as unfinished.
	Timeout time.Duration
	// IO is the closed-loop engine's I/O, paced or not: epoll (the
	// default) or uring. The other modes have an I/O of their own.
	IO IO
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
	// OnWindow, when set, is called as the measured window opens (true)
	// and as it closes (false), or ends early, from a goroutine of its
	// own, so that a caller samples what it measures beside the attack
	// (the server's CPU) over the window and nothing else: the window
	// opens a warm-up after setup and StartAt's wait, later than Run is
	// called, and with agents later still. It must not block for long.
	OnWindow func(open bool)
	// StartAt, when set, is when the attack starts (its warm-up, or its
	// window): Run checks everything first and waits for it, so that the
	// agents of a distributed attack start together (agent.go).
	StartAt time.Time
	// VegetaResults, in open mode, receives in vegeta's own gob encoding,
	// for `vegeta report` and `vegeta plot`, the result of every hit that
	// ended before the window closed, warm-up included; the unfinished
	// ones, cancelled, are left out. This is the one option whose memory
	// and disk grow with the length of the run.
	VegetaResults io.Writer
}

// OptionError names the option to change when options cannot work, alone
// or together.
type OptionError struct {
	// Option is the option's name as the attack command's flag has it,
	// without dashes ("rate-to").
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// FlagName is how the attack command names an option.
func FlagName(option string) string { return "--" + option }

// Check reports, as an *OptionError, the first option that cannot work,
// alone or with the others; a zero option takes its default first, as
// Run reads Options. name renders an option's name in the caller's words
// (FlagName for the command line; a configuration file has its own keys),
// so the message tells its reader what to change.
func (o Options) Check(name func(option string) string) error {
	return o.CheckGiven(name, nil)
}

// CheckGiven is Check for options of which given reports, by the name
// Check gives them, those set on purpose (the attack command passes its
// flags' Changed): those are checked as given, zero included, so that
// `-c 0` is refused as `connections: 0` is in a configuration, not read as
// "the default". Only an option left zero and not given takes its default.
func (o Options) CheckGiven(name func(option string) string, given func(option string) bool) error {
	_, err := o.withDefaults(given).check(name)
	return err
}

// WithDefaults is o with its default in every zero option but Threads,
// whose default is one event loop per CPU of the machine that runs the
// attack: a coordinator that shares an attack out, and an agent that checks
// one against its limits, read every other option as Run will, and leave
// Threads to the agent's machine.
func (o Options) WithDefaults() Options {
	return o.withDefaults(func(option string) bool { return option == "threads" })
}

// withDefaults returns o with its default in every option left zero and
// not given (with a nil given, in every zero option).
func (o Options) withDefaults(given func(option string) bool) Options {
	unset := func(option string, zero bool) bool {
		return zero && (given == nil || !given(option))
	}
	if unset("mode", o.Mode == "") {
		o.Mode = Closed
	}
	if unset("connections", o.Connections == 0) {
		o.Connections = DefaultConnections
	}
	if unset("duration", o.Duration == 0) {
		o.Duration = DefaultDuration
	}
	if unset("timeout", o.Timeout == 0) {
		o.Timeout = DefaultTimeout
	}
	if unset("pipeline", o.Pipeline == 0) {
		o.Pipeline = 1
	}
	if unset("method", o.Method == "") {
		o.Method = "GET"
	}
	if unset("status", o.Status == 0) {
		o.Status = DefaultStatus
	}
	if o.Mode == Closed && unset("io", o.IO == "") {
		o.IO = IOEpoll
	}
	if unset("pacer", o.Pacer == "") {
		o.Pacer = PacerConstant
	}
	if unset("threads", o.Threads == 0) {
		o.Threads = min(availableCPUs(), max(o.Connections, 0))
	}
	if o.Mode == Stream && unset("chunk-size", o.ChunkSize == 0) {
		o.ChunkSize = DefaultChunkSize
	}
	return o
}

// CheckEach reports, as an *OptionError, the first option given whose
// value no attack can take whatever the other options say: a zero where a
// positive value is needed, a negative rate, a status that is not one, an
// unknown mode or pacer, a method that is not an HTTP token. These are the
// rules Check applies to every option before those about options
// together, which a caller that checks one value at a time (a
// configuration's matrix axis) leaves for when the options are complete.
// name renders option names, as Check's do.
func (o Options) CheckEach(name func(option string) string, given func(option string) bool) error {
	for _, option := range ownRules {
		if given(option) {
			if err := o.checkOwn(option, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownRules are the options with a rule of their own, in the order Check
// reports them.
var ownRules = []string{"mode", "connections", "threads", "duration", "warmup", "timeout", "pipeline",
	"rate", "rate-to", "amplitude", "period", "chunk-size", "status", "requests", "pacer", "io", "method", "header"}

// checkOwn checks one option's value on its own.
func (o Options) checkOwn(option string, name func(string) string) error {
	bad := func(format string, args ...any) error {
		return &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
	}
	atLeastOne := func(n int) error {
		if n < 1 {
			return bad("%s %d: must be at least 1", name(option), n)
		}
		return nil
	}
	notNegative := func(v float64) error {
		if v < 0 {
			return bad("%s %g: must not be negative", name(option), v)
		}
		return nil
	}
	positive := func(d time.Duration) error {
		if d <= 0 {
			return bad("%s %v: must be positive", name(option), d)
		}
		return nil
	}
	notNegativeTime := func(d time.Duration) error {
		if d < 0 {
			return bad("%s %v: must not be negative", name(option), d)
		}
		return nil
	}
	switch option {
	case "mode":
		if !slices.Contains(Modes, o.Mode) {
			return bad("%s %q: want one of closed, open, stream", name(option), o.Mode)
		}
	case "connections":
		return atLeastOne(o.Connections)
	case "threads":
		return atLeastOne(o.Threads)
	case "pipeline":
		return atLeastOne(o.Pipeline)
	case "duration":
		return positive(o.Duration)
	case "timeout":
		return positive(o.Timeout)
	case "warmup":
		return notNegativeTime(o.Warmup)
	case "period":
		return notNegativeTime(o.Period)
	case "rate":
		return notNegative(o.Rate)
	case "rate-to":
		return notNegative(o.RateTo)
	case "amplitude":
		return notNegative(o.Amplitude)
	case "chunk-size":
		if o.ChunkSize < 1 {
			return bad("%s %d: must be at least 1 byte", name(option), o.ChunkSize)
		}
	case "status":
		if o.Status < 100 || o.Status > 599 {
			return bad("%s %d is not an HTTP status code", name(option), o.Status)
		}
	case "requests":
		if o.MaxRequests < 0 {
			return bad("%s %d: must not be negative", name(option), o.MaxRequests)
		}
	case "pacer":
		// No pacer is the constant one (withDefaults).
		if o.Pacer != "" && !slices.Contains(Pacers, o.Pacer) {
			return bad("%s %q: want one of constant, linear, sine", name(option), o.Pacer)
		}
	case "io":
		// No I/O mode is the default one (withDefaults).
		if o.IO != "" && !slices.Contains(IOs, o.IO) {
			return bad("%s %q: want one of epoll, uring", name(option), o.IO)
		}
	case "method":
		if o.Method == "" || strings.IndexFunc(o.Method, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) }) >= 0 {
			return bad("%s %q is not an HTTP token", name(option), o.Method)
		}
	case "header":
		for _, h := range o.Headers {
			if _, err := ParseHeader(h.Name + ": " + h.Value); err != nil {
				return bad("%v", err)
			}
		}
	}
	return nil
}

// check checks every option as it is, a zero where a positive value is
// needed included, and returns the target's URL with its path and port
// made explicit, so that an engine starts only on a plan it can carry out.
func (o Options) check(name func(string) string) (*url.URL, error) {
	bad := func(option, format string, args ...any) (*url.URL, error) {
		return nil, &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
	}
	// A chunk size outside stream mode is refused below, whatever it is;
	// zero there means none.
	if err := o.CheckEach(name, func(option string) bool { return option != "chunk-size" || o.Mode == Stream }); err != nil {
		return nil, err
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return bad("url", "URL %q: %v", o.URL, err)
	}
	switch {
	case u.Scheme == "https":
		return bad("url", "URL %q: https is not supported; sockbench measures plain HTTP/1.1", o.URL)
	case u.Scheme == "tcp" && o.Mode != Stream:
		return bad("url", "URL %q: tcp:// is for stream mode; use http://", o.URL)
	case u.Scheme != "http" && u.Scheme != "tcp":
		return bad("url", "URL %q: want http://host:port/path", o.URL)
	case u.Host == "":
		return bad("url", "URL %q has no host", o.URL)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if u.Port() == "" {
		if u.Scheme == "tcp" {
			return bad("url", "URL %q: tcp:// needs a port", o.URL)
		}
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	switch {
	case o.Threads > o.Connections && o.Mode != Open:
		return bad("threads", "%s %d exceed %s %d: every event loop needs a connection", name("threads"), o.Threads, name("connections"), o.Connections)
	case o.Pipeline > 1 && o.Close:
		return bad("pipeline", "%s %d with %s: a connection that closes after one answer cannot pipeline", name("pipeline"), o.Pipeline, name("close"))
	case o.Pipeline > 1 && o.Rate > 0:
		return bad("pipeline", "%s %d with %s %g: paced requests leave one at a time; choose one", name("pipeline"), o.Pipeline, name("rate"), o.Rate)
	case o.Mode == Open && o.Rate == 0:
		return bad("mode", "open mode needs %s: it sends at a set rate whatever the server does", name("rate"))
	case o.Mode == Stream && o.Rate > 0:
		return bad("rate", "stream mode writes raw bytes as fast as it can: %s does not apply", name("rate"))
	case o.Mode == Stream && o.Pipeline > 1:
		return bad("pipeline", "stream mode writes raw bytes: %s does not apply", name("pipeline"))
	case o.Mode == Stream && o.Close:
		return bad("close", "stream mode keeps its connections open: %s does not apply", name("close"))
	case o.Mode != Stream && o.ChunkSize != 0:
		return bad("chunk-size", "%s applies to stream mode only", name("chunk-size"))
	case o.Mode != Open && o.Pacer != "" && o.Pacer != PacerConstant:
		return bad("pacer", "pacers shape open-mode rates: %s needs open mode", name("pacer"))
	case o.Mode != Open && o.RateTo > 0:
		return bad("rate-to", "pacers shape open-mode rates: %s needs open mode", name("rate-to"))
	case o.Mode != Open && o.Amplitude > 0:
		return bad("amplitude", "pacers shape open-mode rates: %s needs open mode", name("amplitude"))
	case o.Mode != Open && o.Period > 0:
		return bad("period", "pacers shape open-mode rates: %s needs open mode", name("period"))
	case o.Mode != Closed && o.IO != "" && o.IO != IOEpoll:
		return bad("io", "%s %s is the closed-loop engine's: %s mode has an I/O of its own", name("io"), o.IO, o.Mode)
	case o.VegetaResults != nil && o.Mode != Open:
		return bad("vegeta-out", "vegeta-encoded results come from open mode only")
	}
	switch o.Pacer {
	case PacerLinear:
		if o.RateTo == 0 {
			return bad("rate-to", "the linear pacer needs %s, the rate it ramps to", name("rate-to"))
		}
	case PacerSine:
		if o.Period <= 0 || o.Amplitude == 0 || o.Amplitude >= o.Rate {
			return bad("amplitude", "the sine pacer needs %s > 0 and 0 < %s < %s", name("period"), name("amplitude"), name("rate"))
		}
	}
	return u, nil
}
