package all

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
	"github.com/sockbench/sockbench/verify"
)

// knobSets are the settings worth verifying for a model: every handler and
// body size, and each knob the model has at a value that changes its code
// path (the smallest backlog, one accept per wakeup, oneshot registration,
// several loops or SO_REUSEPORT listeners, Nagle left on, a tiny pool).
func knobSets(m servers.Model) []servers.Options {
	off := false
	sets := []servers.Options{
		{},
		{Backlog: 1},
		{ReusePort: true, Listeners: 2},
		{NoDelay: &off},
		{CloseAfterResponse: true},
	}
	for _, h := range servers.Handlers {
		for _, b := range []servers.Body{servers.BodySmall, servers.BodyLarge} {
			sets = append(sets, servers.Options{Handler: h, Body: b})
		}
	}
	if m.Has("loops") {
		sets = append(sets, servers.Options{Loops: 2})
	}
	if m.Has("accept_batch") {
		sets = append(sets, servers.Options{AcceptBatch: 1}, servers.Options{AcceptBatch: 1, Backlog: 1})
	}
	if m.Has("rearm") {
		sets = append(sets, servers.Options{Rearm: servers.RearmOneshot}, servers.Options{Rearm: servers.RearmOneshot, Loops: 2})
	}
	if m.Has("buffer_ring") {
		// Each io_uring feature off on its own, all of them off, and
		// SQPOLL on (issue #14).
		sets = append(sets,
			servers.Options{MultishotAccept: &off},
			servers.Options{BufferRing: &off},
			servers.Options{SubmitBatch: &off},
			servers.Options{FixedFiles: &off},
			servers.Options{MultishotAccept: &off, BufferRing: &off, SubmitBatch: &off, FixedFiles: &off},
			servers.Options{SQPoll: true},
			servers.Options{MultishotAccept: &off, BufferRing: &off, Loops: 2})
	}
	if m.Has("workers") {
		// Verification opens its cases concurrently; the pool must still
		// serve them all by reusing workers, not refuse them.
		sets = append(sets, servers.Options{Workers: 64})
	}
	return sets
}

func describe(o servers.Options) string {
	var parts []string
	add := func(cond bool, f string, a ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(f, a...))
		}
	}
	add(o.Backlog != 0, "backlog=%d", o.Backlog)
	add(o.ReusePort, "reuseport,listeners=%d", o.Listeners)
	add(o.NoDelay != nil, "nodelay=%v", o.NoDelay != nil && *o.NoDelay)
	add(o.Handler != "", "handler=%s", o.Handler)
	add(o.Body != "", "body=%s", o.Body)
	add(o.Loops != 0, "loops=%d", o.Loops)
	add(o.AcceptBatch != 0, "accept-batch=%d", o.AcceptBatch)
	add(o.Rearm != "", "rearm=%s", o.Rearm)
	add(o.Workers != 0, "workers=%d", o.Workers)
	add(o.CloseAfterResponse, "close-after-response")
	for _, k := range servers.Knobs {
		if k.Models != nil && k.Type() == "bool" && k.Value(&o) != k.Default {
			parts = append(parts, fmt.Sprintf("%s=%v", k.Name, k.Value(&o)))
		}
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ",")
}

// Every built-in server passes the conformance gate with every knob
// combination that makes sense for it.
func TestEveryServerPassesVerify(t *testing.T) {
	models := servers.Models()
	if len(models) < 6 {
		t.Fatalf("%d models registered, want the six built-in ones", len(models))
	}
	for _, m := range models {
		for _, opts := range knobSets(m) {
			t.Run(m.Name+"/"+describe(opts), func(t *testing.T) {
				t.Parallel()
				addr, _ := servertest.Start(t, m, opts)
				expect := []string{"<title>sockbench</title>"}
				if opts.Handler != servers.HandlerStatic {
					expect = append(expect, "Your address is 127.0.0.1.")
				}
				skip := slices.Sorted(maps.Keys(m.DeviationsWith(opts)))
				rep, err := verify.Run(context.Background(), "http://"+addr+"/", verify.Options{ExpectBodyContains: expect, Skip: skip})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range rep.Failures() {
					t.Errorf("%s: sent %s, got %s: %s", f.Name, f.Sent, f.Got, f.Reason)
				}
			})
		}
	}
}

// A model's known deviations, and those of a knob set away from its
// default, name real verify cases and are real: the server fails each of
// them.
func TestDeviationsAreReal(t *testing.T) {
	sets := []servers.Options{{}}
	for _, k := range servers.Knobs {
		if len(k.Deviations) == 0 {
			continue
		}
		if k.Type() != "bool" {
			t.Fatalf("knob %s has deviations; teach this test a value of it away from its default", k.Name)
		}
		var o servers.Options
		k.Set(&o, !k.Default.(bool))
		sets = append(sets, o)
	}
	for _, m := range servers.Models() {
		for _, opts := range sets {
			deviations := m.DeviationsWith(opts)
			if len(deviations) == 0 {
				continue
			}
			t.Run(m.Name+"/"+describe(opts), func(t *testing.T) {
				addr, _ := servertest.Start(t, m, opts)
				rep, err := verify.Run(context.Background(), "http://"+addr+"/", verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				failed := map[string]bool{}
				for _, f := range rep.Failures() {
					failed[f.Name] = true
				}
				for name, why := range deviations {
					if !slices.Contains(verify.Cases(), name) {
						t.Errorf("deviation %q is not a verify case", name)
					} else if !failed[name] {
						t.Errorf("deviation %q (%s) passes; drop it", name, why)
					}
				}
			})
		}
	}
}
