package servers

import (
	"fmt"
	"strings"
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
	// Handler chooses how the page is produced.
	Handler Handler
	// Body chooses the page size.
	Body Body
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

// DefaultWorkers is the workerpool model's default cap.
const DefaultWorkers = 10000

// NoDelayEnabled resolves the NoDelay default.
func (o Options) NoDelayEnabled() bool { return o.NoDelay == nil || *o.NoDelay }

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Listeners == 0 {
		o.Listeners = 1
	}
	if o.Loops == 0 {
		o.Loops = 1
	}
	if o.Rearm == "" {
		o.Rearm = RearmPersistent
	}
	if o.Handler == "" {
		o.Handler = HandlerTemplate
	}
	if o.Body == "" {
		o.Body = BodySmall
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	return o
}

func (o Options) validate(m Model) error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if o.Backlog < 0 {
		bad("backlog %d is negative", o.Backlog)
	}
	if o.Listeners < 0 || o.Loops < 0 || o.AcceptBatch < 0 || o.Workers < 0 || o.GOMAXPROCS < 0 {
		bad("listeners, loops, accept-batch, workers and gomaxprocs must not be negative")
	}
	if o.Listeners > 1 && !o.ReusePort {
		bad("listeners %d needs reuseport (without SO_REUSEPORT only one socket can bind the address)", o.Listeners)
	}
	checkKnob := func(k Knob, set bool) {
		if set && !m.Has(k) {
			bad("knob %q does not apply to the %s model (its knobs: %s)", k, m.Name, knobList(m.Knobs))
		}
	}
	checkKnob(KnobLoops, o.Loops > 1)
	checkKnob(KnobAcceptBatch, o.AcceptBatch > 0)
	checkKnob(KnobRearm, o.Rearm != "" && o.Rearm != RearmPersistent)
	checkKnob(KnobWorkers, o.Workers > 0 && o.Workers != DefaultWorkers)
	if o.Loops > 1 && o.ReusePort {
		bad("loops and reuseport both set: with reuseport every listener gets its own loop, use listeners")
	}
	switch o.Rearm {
	case "", RearmPersistent, RearmOneshot:
	default:
		bad("rearm %q is not persistent or oneshot", o.Rearm)
	}
	switch o.Handler {
	case "", HandlerStatic, HandlerTemplate, HandlerTemplateReparse:
	default:
		bad("handler %q is not one of static, template, template-reparse", o.Handler)
	}
	switch o.Body {
	case "", BodySmall, BodyLarge:
	default:
		bad("body %q is not small or large", o.Body)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func knobList(ks []Knob) string {
	if len(ks) == 0 {
		return "none beyond the common ones"
	}
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
