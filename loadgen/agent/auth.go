package agent

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// errUnauthenticated is all a caller without the right credentials learns.
var errUnauthenticated = status.Error(codes.Unauthenticated, "unauthenticated")

// authorize admits a call that bears the token (when the agent has one)
// over a connection whose client certificate was verified (with mutual
// TLS).
func (s *service) authorize(ctx context.Context, method string) error {
	ok := true
	if len(s.cfg.Token) > 0 && !agentpb.TokenMatches(ctx, s.cfg.Token) {
		ok = false
	}
	if s.mtls && certName(ctx) == "" {
		ok = false
	}
	if !ok {
		s.cfg.Log.Warn("refused an unauthenticated call", "peer", peerName(ctx), "method", method)
		return errUnauthenticated
	}
	return nil
}

func (s *service) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *service) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// peerName is the caller's address.
func peerName(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

// certName is the common name (or first DNS name) of the caller's verified
// certificate; empty without one.
func certName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return ""
	}
	c := info.State.VerifiedChains[0][0]
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.String()
}
