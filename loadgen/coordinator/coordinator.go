// Package coordinator drives one attack from many `sockbench agent`s and
// merges what they measured into one result that means exactly what a
// single generator's would: it reaches every agent (a list of addresses,
// or a name that resolves to many, such as a Kubernetes headless
// Service), checks their protocol version, measures each one's clock
// offset NTP-style, shares the attack out among them, has each prepare
// (its limits and allow list checked, the target probed), starts them all
// at one agreed instant corrected for each offset, and merges their
// results: histograms added, per-second series aligned on the common
// start, counts summed, each agent's own figures kept.
//
// An agent that fails before the start fails the attack, with a reason
// that names it. One that dies or falls silent once the attack has
// started is lost within seconds: the others are told to stop, and the
// result is what they measured, naming the lost agents and why. A
// coordinator that was itself stopped (SIGSTOP, a suspended machine) says
// so rather than blame the agents it could not hear.
package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// Defaults of Config's timing fields.
const (
	DefaultConnectTimeout = 5 * time.Second
	// DefaultSilence is how long an agent may send nothing (it sends a
	// heartbeat every 500 ms) before the attack fails.
	DefaultSilence      = 3 * time.Second
	DefaultClockSamples = 8
)

// Config says how to reach the agents.
type Config struct {
	// Agents are host:port addresses; a name stands for every address it
	// resolves to (IPv4 first).
	Agents []string
	// Token is the bearer token every call carries, when the agents have
	// one.
	Token []byte
	// TLS, when set, is used to reach the agents (agentpb.TLSFiles'
	// ClientConfig); its ServerName defaults to the host of each address.
	TLS *tls.Config
	// Run labels attacks in the agents' logs.
	Run string
	// Log receives what the coordinator does; nil discards it.
	Log *slog.Logger
	// ConnectTimeout bounds reaching an agent and its answer to Hello.
	ConnectTimeout time.Duration
	// Silence is how long an agent may be silent mid-attack.
	Silence time.Duration
	// ClockSamples is how many round trips measure each clock.
	ClockSamples int
	// Dial, when set, opens the connections to the agents (through a
	// tunnel, from another network namespace); net.Dialer's when nil.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Resolver resolves agent names (net.DefaultResolver when nil).
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// Coordinator runs attacks on a set of agents. Each attack reaches the
// agents anew, so that an agent restarted between two attacks takes part
// in the second.
type Coordinator struct {
	cfg Config
}

// New checks cfg.
func New(cfg Config) (*Coordinator, error) {
	if len(cfg.Agents) == 0 {
		return nil, errors.New("no agents: give their addresses (host:port)")
	}
	for _, a := range cfg.Agents {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("agent address %q: want host:port (e.g. 198.18.0.2:7000)", a)
		}
	}
	if err := agentpb.CheckToken(cfg.Token); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Silence == 0 {
		cfg.Silence = DefaultSilence
	}
	if cfg.ClockSamples == 0 {
		cfg.ClockSamples = DefaultClockSamples
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &Coordinator{cfg: cfg}, nil
}

// AgentInfo is what Check learned about one agent.
type AgentInfo struct {
	Agent, Host, Version string
	CPUs                 int
	ClockOffset, RTT     time.Duration
}

// Check reaches every agent, checks its version and measures its clock,
// so that a run fails before its first cell when an agent is missing.
func (c *Coordinator) Check(ctx context.Context) ([]AgentInfo, error) {
	agents, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAll(agents)
	infos := make([]AgentInfo, len(agents))
	for i, a := range agents {
		infos[i] = AgentInfo{
			Agent: a.label, Host: a.hello.GetHostname(), Version: a.hello.GetVersion(), CPUs: int(a.hello.GetCpus()),
			ClockOffset: a.clock.offset, RTT: a.clock.rtt,
		}
	}
	return infos, nil
}
