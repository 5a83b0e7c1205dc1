package runner

import (
	"net/url"
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
