// Package agent is the service `sockbench agent` runs on each client
// machine of a distributed attack: it executes the attack specs a
// coordinator sends through loadgen.Run, the same engine as a local attack,
// and streams back what it measures second by second, then its result.
//
// An agent sends traffic where it is told, so it must not be anyone's:
// every call is authenticated (a bearer token compared in constant time,
// mutual TLS, or both), it refuses to listen beyond loopback without one of
// them, it attacks only the targets of its allow list, within its limits,
// and it stops at once when its coordinator's stream breaks (and in any
// case at the spec's end plus a grace period).
package agent

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// DefaultListen is where an agent listens unless told otherwise: loopback
// only, on the port the deploy/ manifests use.
const DefaultListen = "127.0.0.1:7000"

// Defaults of Config's timing fields.
const (
	DefaultGrace     = agentpb.Grace
	DefaultHeartbeat = agentpb.HeartbeatInterval
	// DefaultStartWait bounds the wait between Ready and Start.
	DefaultStartWait = 30 * time.Second
)

// keepaliveTime and keepaliveTimeout make an agent notice a coordinator
// that is cut off (no reset, just silence) within a few seconds: the agent
// pings after keepaliveTime without a frame from it and drops the
// connection, ending its attack, when no answer comes within
// keepaliveTimeout.
const (
	keepaliveTime    = time.Second
	keepaliveTimeout = 2 * time.Second
)

// window is the agent's HTTP/2 flow-control window, per stream and per
// connection: the protocol's initial one, the least gRPC takes.
const window = 64 << 10

// maxHeaderBytes bounds a call's headers, which the agent reads before it
// can check the token among them (gRPC's default is 16 MiB); a token is
// at most agentpb.MaxTokenBytes.
const maxHeaderBytes = 16 << 10

// Config is an agent's setup.
type Config struct {
	// Listen is the TCP address to serve on (DefaultListen when empty).
	// Beyond loopback it needs Token or mutual TLS.
	Listen string
	// Token, when set, must come with every call as a bearer token.
	Token []byte
	// TLS, when set, serves TLS; with ClientAuth set to
	// tls.RequireAndVerifyClientCert (agentpb.TLSFiles.ServerConfig with a
	// CA) every client must present a certificate the CA signed.
	TLS *tls.Config
	// Allow lists the targets the agent may attack; the zero value is
	// DefaultAllow.
	Allow  AllowList
	Limits Limits
	// Log receives who asked for what, refusals and outcomes; nil
	// discards them.
	Log *slog.Logger
	// Grace is how long past its warm-up and window an attack may run
	// before the agent ends it whatever happens (DefaultGrace when zero).
	Grace time.Duration
	// Heartbeat is how often the agent tells the coordinator it is alive
	// (DefaultHeartbeat when zero).
	Heartbeat time.Duration
	// StartWait bounds the wait for Start after Ready (DefaultStartWait
	// when zero).
	StartWait time.Duration

	// resolver resolves target names (net.DefaultResolver when nil).
	resolver resolver
	// clockSkew is how far ahead of the machine's clock this agent's
	// clock runs (tests of the coordinator's offset correction).
	clockSkew time.Duration
	// wrapListener, when set, wraps the listening socket (tests that
	// count what the agent reads).
	wrapListener func(net.Listener) net.Listener
}

// Server is a listening agent.
type Server struct {
	lis  net.Listener
	grpc *grpc.Server
	svc  *service
}

// Listen checks cfg and opens its listening socket.
func Listen(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if len(cfg.Allow.text) == 0 {
		a, err := ParseAllowList(DefaultAllow)
		if err != nil {
			return nil, err
		}
		cfg.Allow = a
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.StartWait == 0 {
		cfg.StartWait = DefaultStartWait
	}
	if err := agentpb.CheckToken(cfg.Token); err != nil {
		return nil, err
	}
	mtls := cfg.TLS != nil && cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert && cfg.TLS.ClientCAs != nil
	authenticated := len(cfg.Token) > 0 || mtls
	refuse := func(addr string) error {
		return fmt.Errorf("agent: refusing to listen on %s without authentication: it is beyond loopback, and an agent sends traffic wherever it is told; give --token-file, or mutual TLS with --tls-cert, --tls-key and --tls-ca", addr)
	}
	// An address that is plainly beyond loopback is refused before it is
	// bound.
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && !authenticated {
		if ip, err := netip.ParseAddr(host); host == "" || err == nil && !ip.IsLoopback() {
			return nil, refuse(cfg.Listen)
		}
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", cfg.Listen, err)
	}
	// Then the address actually bound decides: "localhost" is loopback, a
	// host's own name is not.
	loopback := lis.Addr().(*net.TCPAddr).IP.IsLoopback()
	switch {
	case !loopback && !authenticated:
		lis.Close()
		return nil, refuse(lis.Addr().String())
	case !loopback && cfg.TLS == nil:
		cfg.Log.Warn("listening beyond loopback without TLS: the token travels in clear text; --tls-cert and --tls-key encrypt it", "listen", lis.Addr().String())
	case loopback && !authenticated:
		cfg.Log.Warn("listening on loopback without authentication: any local user may use this agent", "listen", lis.Addr().String())
	}
	if cfg.resolver == nil {
		cfg.resolver = net.DefaultResolver
	}
	if cfg.wrapListener != nil {
		lis = cfg.wrapListener(lis)
	}
	gate := newGate(lis)
	svc := &service{cfg: cfg, mtls: mtls, instance: instanceID(), gate: gate}
	opts := []grpc.ServerOption{
		grpc.InTapHandle(svc.tap),
		// A caller refused on its headers may have sent part of its
		// message already: gRPC reads and drops it, at most one window
		// per call, since the windows stay at HTTP/2's 64 KiB (gRPC's
		// bandwidth estimate would widen them). A coordinator sends only
		// small control messages, and small metadata.
		grpc.InitialWindowSize(window),
		grpc.InitialConnWindowSize(window),
		grpc.MaxRecvMsgSize(agentpb.MaxControlBytes),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	g := grpc.NewServer(opts...)
	agentpb.RegisterAgentServer(g, svc)
	return &Server{lis: gate, grpc: g, svc: svc}, nil
}

// Addr is the address the agent listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve answers calls until ctx is done, then ends every attack and
// returns.
func (s *Server) Serve(ctx context.Context) error {
	s.svc.cfg.Log.Info("agent listening", "listen", s.lis.Addr().String(), "allow", s.svc.cfg.Allow.String(),
		"max_duration", s.svc.cfg.Limits.MaxDuration.String(), "max_connections", s.svc.cfg.Limits.MaxConnections,
		"max_rate", s.svc.cfg.Limits.MaxRate, "token", len(s.svc.cfg.Token) > 0, "mtls", s.svc.mtls, "version", agentpb.BuildVersion())
	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(s.lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("agent: serve on %s: %w", s.lis.Addr(), err)
	case <-ctx.Done():
	}
	// Stop, not GracefulStop: the streams of running attacks end, and
	// with them the attacks.
	s.grpc.Stop()
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// service implements agentpb.AgentServer.
type service struct {
	agentpb.UnimplementedAgentServer
	cfg      Config
	mtls     bool
	instance string
	gate     *gate

	// busy is held while an attack runs: one at a time, so that two
	// coordinators never share (and skew) one agent's CPU.
	busy sync.Mutex
	// running describes the attack that holds busy.
	running atomic.Value
}

func instanceID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *service) Hello(ctx context.Context, req *agentpb.HelloRequest) (*agentpb.HelloReply, error) {
	if v := req.GetProtocolVersion(); v != agentpb.ProtocolVersion {
		s.cfg.Log.Warn("refused a coordinator of another protocol version", "peer", peerName(ctx), "coordinator", req.GetCoordinator(), "its_version", v)
		return nil, status.Errorf(codes.FailedPrecondition, "the coordinator speaks protocol version %d; this agent (sockbench %s) speaks %d: run the same sockbench on both sides", v, agentpb.BuildVersion(), agentpb.ProtocolVersion)
	}
	host, _ := os.Hostname()
	return &agentpb.HelloReply{
		ProtocolVersion: agentpb.ProtocolVersion, Version: agentpb.BuildVersion(), Hostname: host,
		Cpus: int64(usableCPUs()), Instance: s.instance,
		Limits: &agentpb.Limits{
			MaxDurationNs: int64(s.cfg.Limits.MaxDuration), MaxConnections: int64(s.cfg.Limits.MaxConnections),
			MaxRate: s.cfg.Limits.MaxRate, Allow: s.cfg.Allow.Entries(),
		},
	}, nil
}

func (s *service) Clock(context.Context, *agentpb.ClockRequest) (*agentpb.ClockReply, error) {
	rx := s.now().UnixNano()
	return &agentpb.ClockReply{ReceiveUnixNano: rx, TransmitUnixNano: s.now().UnixNano()}, nil
}

// now is the agent's clock.
func (s *service) now() time.Time { return time.Now().Add(s.cfg.clockSkew) }

// Close stops a server that was never served, or ends a served one as
// cancelling Serve's context does.
func (s *Server) Close() {
	s.grpc.Stop()
	s.lis.Close()
}
