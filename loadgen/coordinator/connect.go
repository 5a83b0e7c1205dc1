package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// maxResult bounds the size of one agent's final result (its per-second
// series grows with the window: about 1 KiB a second).
const maxResult = 64 << 20

// agentConn is one connected agent.
type agentConn struct {
	// label names the agent in every message: its address as given, with
	// the address reached when a name stood for several.
	label string
	addr  string
	conn  *grpc.ClientConn
	rpc   agentpb.AgentClient
	hello *agentpb.HelloReply
	clock clockSample
}

// target is one address to reach an agent at.
type target struct {
	label, addr, serverName string
}

// targets expands the configured addresses: an address stands for itself;
// a name for every IPv4 address it has (else every IPv6 one), so that a
// Kubernetes headless Service's name stands for all its agents.
func (c *Coordinator) targets(ctx context.Context) ([]target, error) {
	var out []target
	seen := map[string]bool{}
	for _, a := range c.cfg.Agents {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("agent address %q: want host:port (e.g. 198.18.0.2:7000)", a)
		}
		var addrs []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{ip}
		} else {
			lctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
			addrs, err = c.cfg.Resolver.LookupNetIP(lctx, "ip4", host)
			if err != nil || len(addrs) == 0 {
				addrs, err = c.cfg.Resolver.LookupNetIP(lctx, "ip6", host)
			}
			cancel()
			if err != nil || len(addrs) == 0 {
				return nil, fmt.Errorf("agent %s: its name does not resolve: %v", a, err)
			}
		}
		for _, ip := range addrs {
			addr := net.JoinHostPort(ip.Unmap().String(), port)
			if seen[addr] {
				continue
			}
			seen[addr] = true
			label := a
			if len(addrs) > 1 {
				label = fmt.Sprintf("%s (%s)", a, addr)
			}
			out = append(out, target{label: label, addr: addr, serverName: host})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no agents: give their addresses (host:port)")
	}
	return out, nil
}

// connect reaches every agent, checks its protocol version and measures
// its clock; agents reached at two addresses count once. The caller closes
// the agents' connections.
func (c *Coordinator) connect(ctx context.Context) ([]*agentConn, error) {
	ts, err := c.targets(ctx)
	if err != nil {
		return nil, err
	}
	agents := make([]*agentConn, len(ts))
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() {
			a, err := c.dial(ctx, t)
			agents[i] = a
			if err != nil {
				errs[i] = &AgentError{Agent: t.label, Err: err}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(agents)
		return nil, err
	}
	var unique []*agentConn
	byInstance := map[string]*agentConn{}
	for _, a := range agents {
		if first := byInstance[a.hello.GetInstance()]; first != nil {
			c.cfg.Log.Info("one agent at two addresses: using the first", "agent", first.label, "also", a.label)
			a.conn.Close()
			continue
		}
		byInstance[a.hello.GetInstance()] = a
		unique = append(unique, a)
	}
	return unique, nil
}

func (c *Coordinator) dial(ctx context.Context, t target) (*agentConn, error) {
	creds := insecure.NewCredentials()
	if c.cfg.TLS != nil {
		tc := c.cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = t.serverName
		}
		creds = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// An agent restarted between cells is reached again within a
		// second, not after gRPC's default backoff of up to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, MaxDelay: time.Second},
			MinConnectTimeout: c.cfg.ConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResult)),
	}
	if len(c.cfg.Token) > 0 {
		opts = append(opts, grpc.WithPerRPCCredentials(agentpb.TokenCredentials(c.cfg.Token)))
	}
	if c.cfg.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(c.cfg.Dial))
	}
	conn, err := grpc.NewClient("passthrough:///"+t.addr, opts...)
	if err != nil {
		return nil, err
	}
	a := &agentConn{label: t.label, addr: t.addr, conn: conn, rpc: agentpb.NewAgentClient(conn)}
	hctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	host, _ := os.Hostname()
	hello, err := a.rpc.Hello(hctx, &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion, Coordinator: host}, grpc.WaitForReady(true))
	if err != nil {
		conn.Close()
		return nil, describeCallError(err, c.cfg.ConnectTimeout)
	}
	if v := hello.GetProtocolVersion(); v != agentpb.ProtocolVersion {
		conn.Close()
		return nil, fmt.Errorf("it speaks protocol version %d (sockbench %s); this coordinator speaks %d (sockbench %s): run the same sockbench on both sides",
			v, hello.GetVersion(), agentpb.ProtocolVersion, agentpb.BuildVersion())
	}
	a.hello = hello
	a.clock, err = measureClock(hctx, a.rpc, c.cfg.ClockSamples)
	if err != nil {
		conn.Close()
		return nil, describeCallError(err, c.cfg.ConnectTimeout)
	}
	return a, nil
}

// describeCallError turns a failed call into a sentence about the agent.
func describeCallError(err error, timeout time.Duration) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return errors.New("it refused this coordinator's credentials (a wrong or missing token, or no certificate it trusts)")
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer within %s (%s): is `sockbench agent` running there and reachable?", timeout, st.Message())
	case codes.Unavailable:
		return fmt.Errorf("unreachable: %s", st.Message())
	case codes.PermissionDenied, codes.InvalidArgument, codes.ResourceExhausted, codes.FailedPrecondition:
		return fmt.Errorf("it refused: %s", st.Message())
	case codes.Canceled:
		return errors.New("the call was cancelled")
	}
	return fmt.Errorf("%s: %s", strings.ToLower(st.Code().String()), st.Message())
}

func closeAll(agents []*agentConn) {
	for _, a := range agents {
		if a != nil {
			a.conn.Close()
		}
	}
}

// AgentError is a failure of one agent.
type AgentError struct {
	Agent string
	Err   error
}

func (e *AgentError) Error() string { return "agent " + e.Agent + ": " + e.Err.Error() }
func (e *AgentError) Unwrap() error { return e.Err }

// LostError is an attack lost once it had started: every agent was lost,
// or this coordinator was itself stopped long enough to lose them.
// Nothing it measured is kept.
type LostError struct {
	Err error
}

func (e *LostError) Error() string { return e.Err.Error() }
func (e *LostError) Unwrap() error { return e.Err }
