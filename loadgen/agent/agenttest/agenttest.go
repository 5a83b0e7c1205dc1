// Package agenttest runs sockbench agents inside a test process, for the
// tests of the agent and of the coordinator that drives it.
package agenttest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/logwatch"
	"github.com/sockbench/sockbench/loadgen/agent"
)

// Agent is an agent running in the test process.
type Agent struct {
	Addr string
	// Log holds what the agent logged.
	Log *logwatch.Log

	stop func()
}

// Start runs an agent with cfg on a free loopback port (unless cfg.Listen
// names another) until the test ends; its log goes to Log, and to t.Log in
// a verbose run.
func Start(t testing.TB, cfg agent.Config) *Agent {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	var tee func(string)
	if testing.Verbose() {
		tee = func(line string) { t.Log("agent: " + line) }
	}
	a := &Agent{Log: logwatch.New(tee)}
	cfg.Log = a.Log.Logger()
	srv, err := agent.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Addr = srv.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	var once sync.Once
	a.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("agent %s: %v", a.Addr, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("agent %s did not stop within 5s of its end", a.Addr)
			}
		})
	}
	t.Cleanup(a.Stop)
	return a
}

// Stop ends the agent, and with it every attack it runs, as if its process
// died; it may be called more than once.
func (a *Agent) Stop() { a.stop() }

// WaitFor waits at most limit for a log line that starts with msg.
func (a *Agent) WaitFor(t testing.TB, msg string, limit time.Duration) string {
	t.Helper()
	line, err := a.Log.WaitFor(msg, limit)
	if err != nil {
		t.Fatalf("agent %s: %v", a.Addr, err)
	}
	return line
}
