package runner

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agent"
	"github.com/sockbench/sockbench/loadgen/agent/agenttest"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
)

var agentToken = []byte("runner-test-token-0123456789abcdef")

// viaCoordinator is how `sockbench run` reaches agents, without reading
// the token from a file.
func viaCoordinator(ctx context.Context, a results.Agents) (Load, func(), error) {
	c, err := coordinator.New(coordinator.Config{Agents: a.Addresses, Token: agentToken, Run: "runner test"})
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Check(ctx); err != nil {
		return nil, nil, err
	}
	return c.Run, nil, nil
}

// A run whose load comes from agents: its servers listen where the agents
// reach them, every window is the agents' merged result with each one's
// figures, and an agent killed mid-repetition fails that repetition,
// naming it, with the survivor's partial result kept (never ranked), while
// the next one runs with the agent restarted.
func TestRunWithAgents(t *testing.T) {
	a1 := agenttest.Start(t, agent.Config{Token: agentToken, Listen: "127.0.0.2:0"})
	a2 := agenttest.Start(t, agent.Config{Token: agentToken, Listen: "127.0.0.3:0"})
	listen, err := servers.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, fmt.Sprintf(`version: 1
name: agents
repetitions: 3
cpus: {server: 0, load: 1}
load_from: agents
agents:
  addresses: ["%s", "%s"]
  listen: "%s"
servers: [epoll]
load: {connections: 4, threads: 1, duration: 3s}
`, a1.Addr, a2.Addr, listen))
	var (
		out      bytes.Buffer
		o        observer
		once     sync.Once
		restarts = make(chan error, 1)
	)
	// At the first measured second of repetition 2, agent 2 dies; it is
	// back (same address) for repetition 3.
	o.act = func(e Event) {
		if e.Kind != Measured || e.Rep != 2 {
			return
		}
		once.Do(func() {
			go func() {
				a2.Stop()
				srv, err := agent.Listen(agent.Config{Token: agentToken, Listen: a2.Addr})
				if err == nil {
					ctx, cancel := context.WithCancel(context.Background())
					t.Cleanup(cancel)
					go srv.Serve(ctx)
				}
				restarts <- err
			}()
		})
	}
	opts := options(t, &out, &o)
	opts.Agents = viaCoordinator
	began := time.Now()
	sum, err := Run(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-restarts:
		if err != nil {
			t.Fatalf("restarting agent 2: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent 2 was never stopped")
	}
	t.Logf("three repetitions in %s", time.Since(began).Round(time.Millisecond))
	cell := p.Cells[0].ID
	for rep, want := range map[int]results.Outcome{1: results.OK, 2: results.Failed, 3: results.OK} {
		r := readRep(t, sum.Dir, cell, rep)
		if r.Status != want {
			t.Errorf("rep %d: %s (%s), want %s", rep, r.Status, r.Reason, want)
			continue
		}
		if want == results.Failed {
			if !strings.Contains(r.Reason, "partial result") || !strings.Contains(r.Reason, "agent "+a2.Addr) {
				t.Errorf("rep %d failed for %q, which does not name the partial result and agent %s", rep, r.Reason, a2.Addr)
			}
			if r.Load == nil || len(r.Load.LostAgents) != 1 || len(r.Load.Agents) != 1 || r.Load.Agents[0].Requests == 0 {
				t.Errorf("rep %d: the survivor's partial result is not kept: %+v", rep, r.Load)
			}
			continue
		}
		if len(r.Load.Agents) != 2 || r.Load.Agents[0].Requests == 0 || r.Load.Agents[1].Requests == 0 || r.Load.Client.Hosts != 2 {
			t.Errorf("rep %d: agents' figures %+v, hosts %d", rep, r.Load.Agents, r.Load.Client.Hosts)
		}
		if st := r.Server.Stats; st == nil || st.Requests < uint64(r.Load.Requests) {
			t.Errorf("rep %d: the server answered %v requests, the agents counted %d", rep, st, r.Load.Requests)
		}
		if !strings.HasPrefix(r.URL, "http://"+listen) {
			t.Errorf("rep %d: the server's URL %s is not at %s", rep, r.URL, listen)
		}
	}
}

// TestServerIsSampledOverTheLoadWindow: the server's CPU is read as the
// load generator's window opens and closes, however late that is. A load
// that opens its window late, as agents do (the coordinator's agreed
// instant comes 100 ms and a few round trips after the call), had the
// server charged for its warm-up: sampled a warm-up after the call, the
// window read 1.6 s for a 1 s window here.
func TestServerIsSampledOverTheLoadWindow(t *testing.T) {
	const late = 600 * time.Millisecond
	for _, c := range []struct {
		name string
		from string
		load func(ctx context.Context, a results.Agents) (Load, func(), error)
	}{
		{"local", "", nil},
		{"late agent", "load_from: agents\nagents: {addresses: [\"127.0.0.9:7000\"], listen: \"LISTEN\"}\n",
			func(context.Context, results.Agents) (Load, func(), error) {
				return func(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
					o.StartAt = time.Now().Add(late)
					return loadgen.Run(ctx, o)
				}, nil, nil
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			listen, err := servers.FreeLoopbackAddr()
			if err != nil {
				t.Fatal(err)
			}
			from := strings.Replace(c.from, "LISTEN", listen, 1)
			p := parse(t, "version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nservers: [epoll]\n"+from+"load: {connections: 2, threads: 1, warmup: 200ms, duration: 1s}\n")
			var out bytes.Buffer
			var o observer
			opts := options(t, &out, &o)
			opts.Agents = c.load
			sum, err := Run(context.Background(), p, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := readRep(t, sum.Dir, p.Cells[0].ID, 1)
			if r.Status != results.OK || r.Server == nil {
				t.Fatalf("%s (%s)\n%s", r.Status, r.Reason, out.String())
			}
			// The edges are timers' wake-ups, each late by a busy
			// machine's delays, never by a warm-up or the agents' start.
			if w, d := r.Server.WindowSeconds, r.Load.Duration; math.Abs(w-d) > d/10 {
				t.Errorf("the server was sampled over %.3fs, the load's window was %.3fs", w, d)
			}
		})
	}
}
