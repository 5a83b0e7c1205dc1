package servers

import (
	"fmt"
	"strings"
	"time"
)

// Options are the knobs a server is started with. The zero value of every
// field means "the default", so a caller only sets what it varies.
type Options struct {
	// Addr is host:port to listen on; port 0 picks a free port.
	Addr string
	// Backlog is the listen(2) backlog. 0 means the largest the kernel
	// accepts (net.core.somaxconn); the thread's post #5 is about what a
	// backlog of 1 costs, so 1 is honoured as given.
	Backlog int
	// ReusePort opens Listeners sockets with SO_REUSEPORT on the same
	// address, each served by its own loop, and lets the kernel spread new
	// connections over them (thread post #1's "four processes").
	ReusePort bool
	// Listeners is the number of SO_REUSEPORT listeners; only with ReusePort.
	Listeners int
	// Loops is the number of event loops (raw servers) sharing one listener.
	Loops int
	// GOMAXPROCS, when positive, is applied to the Go runtime before the
	// server starts; the raw servers' loops are pinned goroutines, so it
	// bounds how many run in parallel.
	GOMAXPROCS int
	// NoDelay sets TCP_NODELAY on accepted connections. The Go runtime sets
	// it by default, so every server does the same unless told otherwise.
	NoDelay *bool
	// AcceptBatch is how many connections an event loop accepts per listener
	// wakeup before it polls again (thread posts #16-#19). 0 means until
	// accept says EAGAIN.
	AcceptBatch int
	// Rearm chooses how the raw servers register sockets with the poller.
	Rearm Rearm
	// Workers caps the worker pool (workerpool model).
	Workers int
	// The io_uring model's features, each measurable on its own (issue
	// #14); nil means on. MultishotAccept keeps one accept armed for
	// every connection to come; BufferRing receives with one multishot
	// recv per connection into buffers from a provided ring, instead of
	// a recv per read into the connection's own buffer; SubmitBatch
	// submits a loop iteration's operations in its one io_uring_enter,
	// instead of one enter each; FixedFiles puts connections in the
	// ring's registered files. SQPoll, off by default because it spends
	// a core, lets a kernel thread take submissions without a syscall.
	MultishotAccept, BufferRing, SubmitBatch, FixedFiles *bool
	SQPoll                                               bool
	// HeaderTimeout bounds the time from a request's first byte (from
	// accept, for a connection's first request) to the end of its head;
	// IdleTimeout bounds the wait of a kept-alive connection for its next
	// request. Past either the server closes the connection, without an
	// answer, as nginx and net/http do: a client that sends half a request
	// or nothing at all must not hold a connection (and, in the worker
	// pool, a worker) for ever. Stream mode has neither.
	HeaderTimeout, IdleTimeout time.Duration
	// Handler chooses how the page is produced.
	Handler Handler
	// Body chooses the page size.
	Body Body
	// CloseAfterResponse closes every connection once its first answer is
	// written, without announcing it (no Connection: close), as the
	// thread's servers did: post #5's wrk runs count about one read error
	// per request, the closes wrk does not expect. RFC 9112 §9.5 lets a
	// server close at any time; a client sees it as the end of a
	// keep-alive connection and reconnects.
	CloseAfterResponse bool
	// Stream turns the server into a read-and-discard sink (thread post #1):
	// no HTTP, every byte read is counted and dropped.
	Stream bool
}

// Rearm is the raw servers' registration discipline.
type Rearm string

const (
	// RearmPersistent registers a socket once and leaves it registered.
	RearmPersistent Rearm = "persistent"
	// RearmOneshot registers the socket before each wait for readiness and
	// unregisters it after the wakeup, the way thread post #15 found trio
	// does around every accept.
	RearmOneshot Rearm = "oneshot"
)

// Handler chooses how the page body is produced.
type Handler string

const (
	// HandlerStatic serves bytes rendered once at start-up.
	HandlerStatic Handler = "static"
	// HandlerTemplate renders the page per request from a template compiled
	// once: client IP and current time filled in.
	HandlerTemplate Handler = "template"
	// HandlerTemplateReparse parses the template source on every request, the
	// Go analog of the thread's enable_async=True mistake (post #5).
	HandlerTemplateReparse Handler = "template-reparse"
)

// Handlers lists the valid handler names.
var Handlers = []Handler{HandlerStatic, HandlerTemplate, HandlerTemplateReparse}

// Body chooses the page size.
type Body string

const (
	// BodySmall is the thread's 379-byte page.
	BodySmall Body = "small"
	// BodyLarge is the thread's page padded with lorem ipsum to about 3044 bytes.
	BodyLarge Body = "large"
)

// NoDelayEnabled resolves the NoDelay default.
func (o Options) NoDelayEnabled() bool { return o.NoDelay == nil || *o.NoDelay }

// withDefaults fills in Addr and every knob left at its zero value with
// the knob's default.
func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	var zero Options
	for _, k := range Knobs {
		if k.Value(&o) == k.Value(&zero) {
			k.Set(&o, k.Default)
		}
	}
	return o
}

// validate checks every knob's value and the combinations the models
// cannot run. A knob at its zero value means its default.
func (o Options) validate(m Model) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	var zero Options
	for _, k := range Knobs {
		v := k.Value(&o)
		if v == k.Value(&zero) {
			continue
		}
		if err := k.Check(v); err != nil {
			bad("%v", err)
			continue
		}
		if v != k.Default && !k.Applies(m.Name) {
			bad("knob %s does not apply to the %s model (it applies to %s)", k.Name, m.Name, strings.Join(k.Models, ", "))
		}
	}
	if o.Listeners > 1 && !o.ReusePort {
		bad("listeners %d needs reuseport (without SO_REUSEPORT only one socket can bind the address)", o.Listeners)
	}
	if o.Loops > 1 && o.ReusePort {
		bad("loops and reuseport both set: with reuseport every listener gets its own loop, use listeners")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
