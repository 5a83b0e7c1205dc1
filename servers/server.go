// Package servers defines what every sockbench server implementation has in
// common: the knobs it is started with, the counters it reports when it stops,
// and the registry that lets the CLI and the runner pick one by name.
//
// Each I/O model lives in its own package below this one and registers itself
// from an init function; the one binary imports servers/all to get every
// one of them (a library package never does).
package servers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is one running HTTP/1.1 (or raw stream) server. New binds the
// listening sockets, so Addr is valid before Serve is called; that lets a
// caller start the server on port 0 and learn the port without a race.
type Server interface {
	// Addr is the address the first listener is bound to.
	Addr() net.Addr
	// Serve runs the server until ctx is cancelled, then closes every
	// connection and listener it owns and returns nil. A non-nil error means
	// the server could not keep serving.
	Serve(ctx context.Context) error
	// Stats returns the counters. It is only exact after Serve has returned.
	Stats() Stats
}

// Factory creates a server bound according to opts.
type Factory func(opts Options) (Server, error)

// Model describes one registered I/O model.
type Model struct {
	// Name is what users type: "epoll", "nethttp", ...
	Name string
	// Summary is one line for help texts and the README table.
	Summary string
	// Deviations are the conformance cases (package verify) the model is
	// known to fail, each with the reason: the runner skips them for it,
	// so a benchmark is not refused over a choice the model made on
	// purpose, and the reason stays on record.
	Deviations map[string]string
	New        Factory
}

var (
	registryMu sync.Mutex
	registry   = map[string]Model{}
)

// Register makes a model available by name. It panics on a duplicate name,
// which can only be a programming error in an init function.
func Register(m Model) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[m.Name]; dup {
		panic("servers: model registered twice: " + m.Name)
	}
	registry[m.Name] = m
}

// Lookup returns the model registered under name.
func Lookup(name string) (Model, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	m, ok := registry[name]
	if !ok {
		return Model{}, fmt.Errorf("unknown server %q (known: %s)", name, strings.Join(namesLocked(), ", "))
	}
	return m, nil
}

// Models returns every registered model, sorted by name.
func Models() []Model {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Model, 0, len(registry))
	for _, n := range namesLocked() {
		out = append(out, registry[n])
	}
	return out
}

func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks opts against the model's knobs without starting
// anything, so a run configuration can be refused before anything runs.
func (m Model) Validate(opts Options) error {
	if err := opts.validate(m); err != nil {
		return fmt.Errorf("%s server: %w", m.Name, err)
	}
	return nil
}

// Start validates opts against the model's knobs and creates the server.
func (m Model) Start(opts Options) (Server, error) {
	if err := m.Validate(opts); err != nil {
		return nil, err
	}
	s, err := m.New(opts.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("start %s server on %s: %w", m.Name, opts.Addr, err)
	}
	return s, nil
}

// DeviationsWith are the model's Deviations and those of every knob opts
// sets away from its default: the verify cases to skip for a server
// started with opts.
func (m Model) DeviationsWith(opts Options) map[string]string {
	out := maps.Clone(m.Deviations)
	var zero Options
	for _, k := range Knobs {
		if v := k.Value(&opts); v == k.Value(&zero) || v == k.Default {
			continue
		}
		for name, why := range k.Deviations {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = "with " + k.Name + ": " + why
		}
	}
	return out
}

// Knobs lists the knobs the model honours beyond the ones every model has.
func (m Model) Knobs() []*Knob {
	var out []*Knob
	for _, k := range Knobs {
		if k.Models != nil && k.Applies(m.Name) {
			out = append(out, k)
		}
	}
	return out
}

// Has reports whether the model honours the knob of that name.
func (m Model) Has(name string) bool {
	k, ok := LookupKnob(name)
	return ok && k.Applies(m.Name)
}

// RunLoops runs the raw servers' loops, run(i) for i below n, each on a
// goroutine of its own, until all have returned, and returns their errors
// joined. When ctx ends first it sets stopping and calls wake(i) for
// every loop, so a loop blocked in the kernel sees the stop at once and
// needs no timeout to notice it; wake must be safe after its loop ended.
func RunLoops(ctx context.Context, n int, stopping *atomic.Bool, wake func(i int), run func(i int) error) error {
	stopWaking := context.AfterFunc(ctx, func() {
		stopping.Store(true)
		for i := range n {
			wake(i)
		}
	})
	defer stopWaking()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = run(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
