package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sockbench/sockbench/loadgen/agentpb"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/loadgen/sshlaunch"
	"github.com/sockbench/sockbench/runner"
	"github.com/sockbench/sockbench/runner/results"
)

// runAgents returns how a run reaches the agents of its plan (load_from:
// agents): through a coordinator, every agent checked at once, so that a
// missing one ends the run before its first cell; those of agents.ssh are
// started first, and stopped by the returned func at the run's end; what
// it found goes to w.
func runAgents(w io.Writer) func(context.Context, results.Agents) (runner.Load, func(), error) {
	return func(ctx context.Context, a results.Agents) (runner.Load, func(), error) {
		cfg, err := coordinatorConfig(a.Addresses, a.TokenFile, agentpb.TLSFiles{CA: a.TLS.CA, Cert: a.TLS.Cert, Key: a.TLS.Key})
		if err != nil {
			return nil, nil, err
		}
		stop := func() {}
		if len(a.SSH) > 0 {
			fleet, err := launchAgents(ctx, sshlaunch.Config{Hosts: a.SSH, Listen: a.SSHListen, KnownHosts: a.KnownHosts, KeyFiles: a.Identity}, a.TargetAddr(), &cfg)
			if err != nil {
				return nil, nil, err
			}
			for _, ag := range fleet.Agents {
				fmt.Fprintf(w, "agent started over SSH on %s at %s (sockbench copied: %t)\n", ag.Host, ag.Addr, ag.Copied)
			}
			stop = fleet.Stop
		}
		cfg.Run = "sockbench run"
		c, err := coordinator.New(cfg)
		if err != nil {
			stop()
			return nil, nil, err
		}
		infos, err := c.Check(ctx)
		if err != nil {
			stop()
			return nil, nil, err
		}
		fmt.Fprintf(w, "load from %d agents, aimed at %s:\n", len(infos), a.TargetAddr())
		for _, i := range infos {
			fmt.Fprintf(w, "  %s (%s, %d CPUs, sockbench %s): clock offset %s, round trip %s\n",
				i.Agent, i.Host, i.CPUs, i.Version, i.ClockOffset.Round(time.Microsecond), i.RTT.Round(time.Microsecond))
		}
		return c.Run, stop, nil
	}
}
