package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/spf13/pflag"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/loadgen/sshlaunch"
)

// exitLost is attack's exit status when a distributed attack lost agents
// once it had started: it ran, but what it measured is partial or gone.
const exitLost = 3

// agentFlags are the attack command's flags for an attack run by agents on
// other machines (sockbench agent) instead of this one.
type agentFlags struct {
	agents    []string
	ssh       []string
	tokenFile string
	tls       agentpb.TLSFiles
}

func (a *agentFlags) register(f *pflag.FlagSet) {
	f.StringSliceVar(&a.agents, "agents", nil, "run the attack on these sockbench agents (host:port, comma-separated; a name stands for every address it resolves to), sharing out connections and rate, merged into one result")
	f.StringSliceVar(&a.ssh, "ssh", nil, "start agents for this attack on these machines over SSH (user@host[:port]; known_hosts checked, keys from ~/.ssh or ssh-agent, this sockbench copied where it is missing) and stop them after it")
	f.StringVar(&a.tokenFile, "token-file", "", "with --agents: file holding the agents' bearer token")
	f.StringVar(&a.tls.CA, "tls-ca", "", "with --agents: CA that signs the agents' certificates (TLS)")
	f.StringVar(&a.tls.Cert, "tls-cert", "", "with --agents: this coordinator's certificate (mutual TLS)")
	f.StringVar(&a.tls.Key, "tls-key", "", "with --agents: the key of --tls-cert")
}

func (a *agentFlags) used() bool { return len(a.agents) > 0 || len(a.ssh) > 0 }

// checkLimits checks o against this machine's limits, which bind only a
// local attack: each agent checks its own share against its own.
func (a *agentFlags) checkLimits(o loadgen.Options) error {
	if a.used() {
		return nil
	}
	if a.tokenFile != "" || !a.tls.Empty() {
		return fmt.Errorf("--token-file and --tls-* are for the agents of --agents, and none was given")
	}
	return o.CheckLimits(loadgen.FlagName)
}

// run carries out o here, or on the agents.
func (a *agentFlags) run(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
	if !a.used() {
		return loadgen.Run(ctx, o)
	}
	cfg, err := coordinatorConfig(a.agents, a.tokenFile, a.tls)
	if err != nil {
		return nil, err
	}
	if len(a.ssh) > 0 {
		fleet, err := a.launch(ctx, o, &cfg)
		if err != nil {
			return nil, err
		}
		defer fleet.Stop()
	}
	cfg.Run = "sockbench attack " + o.URL
	c, err := coordinator.New(cfg)
	if err != nil {
		return nil, err
	}
	r, err := c.Run(ctx, o)
	var lost *coordinator.LostError
	if errors.As(err, &lost) {
		return nil, exitStatus{code: exitLost, err: err}
	}
	return r, err
}

// coordinatorConfig is how a coordinator reaches agents, from the files
// of a command line or a run configuration.
func coordinatorConfig(agents []string, tokenFile string, tlsFiles agentpb.TLSFiles) (coordinator.Config, error) {
	cfg := coordinator.Config{Agents: agents}
	if tokenFile != "" {
		tok, err := agentpb.ReadToken(tokenFile)
		if err != nil {
			return cfg, err
		}
		cfg.Token = tok
	}
	if !tlsFiles.Empty() {
		tc, err := tlsFiles.ClientConfig()
		if err != nil {
			return cfg, err
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

// launch starts the agents of --ssh, allowed to attack o's target only.
func (a *agentFlags) launch(ctx context.Context, o loadgen.Options, cfg *coordinator.Config) (*sshlaunch.Fleet, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return launchAgents(ctx, sshlaunch.Config{Hosts: a.ssh}, net.JoinHostPort(u.Hostname(), port), cfg)
}

// launchAgents starts agents over SSH as l says, allowed to attack target
// (host:port) only, with cfg's token or, without one, a token made for
// them alone (then set in cfg), and adds them to cfg's agents.
func launchAgents(ctx context.Context, l sshlaunch.Config, target string, cfg *coordinator.Config) (*sshlaunch.Fleet, error) {
	if len(cfg.Token) == 0 {
		tok := make([]byte, 24)
		rand.Read(tok)
		cfg.Token = []byte(base64.RawURLEncoding.EncodeToString(tok))
	}
	l.Token = cfg.Token
	l.AgentArgs = append(l.AgentArgs, "--allow", target)
	fleet, err := sshlaunch.Launch(ctx, l)
	if err != nil {
		return nil, err
	}
	cfg.Agents = append(cfg.Agents, fleet.Addrs()...)
	return fleet, nil
}
