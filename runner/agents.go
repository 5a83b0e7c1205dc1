package runner

import (
	"context"
	"net/url"

	"github.com/sockbench/sockbench/loadgen"
)

// serverAddr is where a measured server listens: a free loopback port,
// or with agents the address they reach.
func (r *run) serverAddr() string {
	if a := r.m.Plan.Agents; a != nil && r.m.Plan.LoadFrom == "agents" {
		return a.Listen
	}
	return ""
}

// loadURL is the server's URL as the load generator reaches it: the
// agents through agents.target (or listen) rather than this machine's
// loopback.
func (r *run) loadURL(target string) string {
	a := r.m.Plan.Agents
	if a == nil || r.m.Plan.LoadFrom != "agents" {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	u.Host = a.TargetAddr()
	return u.String()
}

// completeOnly is load with a partial result (agents lost mid-window) as
// its error: the repetition keeps the result, and fails with the lost
// agents and why, so that the survivors' share of the load is never
// ranked beside whole windows.
func completeOnly(load Load) Load {
	return func(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
		r, err := load(ctx, o)
		if err == nil && r != nil {
			err = r.CheckComplete()
		}
		return r, err
	}
}
