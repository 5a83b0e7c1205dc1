package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
)

// One server host and two agent hosts: the merged count is the server's
// own, within the requests in flight at the stop; killing an agent
// mid-cell loses it within seconds and stops the other, whose requests
// are the cell's partial result; the next cell runs, with the agent
// restarted.
func TestManyHosts(t *testing.T) {
	tb := newTestbed(t, 2)
	agents := []*started{tb.startAgent(t, 0), tb.startAgent(t, 1)}
	c := tb.coordinator(t)
	o := loadgen.Options{Connections: 8, Threads: 1, Duration: 2 * time.Second, Timeout: time.Second}

	t.Run("counts", func(t *testing.T) {
		url, stop := tb.startServer(t)
		o := o
		o.URL = url
		res, err := c.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		st := stop()
		m := res
		if m.Errors.Total() != 0 || m.Requests == 0 {
			t.Fatalf("%d requests, errors %+v", m.Requests, m.Errors)
		}
		// The server counts what it answered; the agents what they read
		// before the window closed: the answers in flight then (at most
		// one per connection) the server counts and the agents do not.
		if server := int64(st.Requests); server < m.Requests || server > m.Requests+m.Unfinished {
			t.Errorf("the server answered %d requests; the agents counted %d, with %d unfinished at the stop", server, m.Requests, m.Unfinished)
		}
		if m.Unfinished > int64(o.Connections) {
			t.Errorf("%d unfinished, more than one per connection (%d)", m.Unfinished, o.Connections)
		}
		for _, f := range res.Agents {
			if f.Requests == 0 {
				t.Errorf("agent %s sent nothing", f.Agent)
			}
			t.Logf("agent %s (%s): %d requests, %.0f/s, clock offset %.0fµs (rtt %.0fµs), start skew %.0fµs, CPU %.2fs",
				f.Agent, f.Host, f.Requests, f.RequestsPerS, f.ClockOffsetUS, f.ClockRTTUS, f.StartSkewUS, f.UserSeconds+f.SysSeconds)
		}
		t.Logf("merged %d requests (%.0f/s), %d unfinished; the server answered %d", m.Requests, m.RequestsPerS, m.Unfinished, st.Requests)
	})

	url, _ := tb.startServer(t)
	o.URL = url
	t.Run("an agent killed mid-cell", func(t *testing.T) {
		o := o
		o.Duration = time.Minute
		progress, running := firstSecond()
		o.Progress = progress
		done := runAsync(c, context.Background(), o)
		waitClosed(t, running, 10*time.Second, "merged second")
		killed := time.Now()
		agents[1].p.Kill()
		r := waitRun(t, done, 5*time.Second)
		wantPartial(t, r, tb.agentAddr(0), tb.agentAddr(1), "its stream broke mid-attack")
		t.Logf("ended %s after the kill", time.Since(killed).Round(time.Millisecond))
		if _, err := agents[0].log.WaitFor("attack stopped by the coordinator", 3*time.Second); err != nil {
			t.Errorf("agent %s: %v", tb.agentAddr(0), err)
		}
	})

	t.Run("the next cell, the agent restarted", func(t *testing.T) {
		agents[1] = tb.startAgent(t, 1)
		o := o
		o.Duration = time.Second
		res, err := c.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Agents) != 2 || res.Agents[1].Requests == 0 {
			t.Errorf("agents' figures %+v: want both agents at work", res.Agents)
		}
	})
}
