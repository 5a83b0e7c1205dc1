package agent_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/sockbench/sockbench/loadgen/agent"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// countingListener counts the connections it accepts and the bytes read
// from them: what the agent took in, whatever it did with it.
type countingListener struct {
	net.Listener
	accepted, read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return countingConn{c, &l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// startCounted runs an agent with cfg behind a countingListener.
func startCounted(t *testing.T, cfg agent.Config) (string, *countingListener) {
	t.Helper()
	var lis *countingListener
	addr, _ := start(t, agent.WithListener(cfg, func(l net.Listener) net.Listener {
		lis = &countingListener{Listener: l}
		return lis
	}))
	return addr, lis
}

// A caller without the token is refused on its call's headers: the agent
// reads neither a large message nor large metadata before it refuses
// (finding 3 of #19: 200 callers of 4 MB each took an agent from 25 MB
// to 1.77 GB, every call answered Unauthenticated).
func TestAnUnauthenticatedCallIsRefusedBeforeItIsRead(t *testing.T) {
	const size = 4_000_000 // under gRPC's default limit of a message, 4 MiB
	big := strings.Repeat("x", size)
	for _, tc := range []struct {
		name string
		call func(ctx context.Context, c agentpb.AgentClient) error
		code codes.Code
	}{
		{"a 4 MB message", func(ctx context.Context, c agentpb.AgentClient) error {
			_, err := c.Hello(ctx, &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion, Coordinator: big})
			return err
		}, codes.Unauthenticated},
		{"4 MB of metadata", func(ctx context.Context, c agentpb.AgentClient) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-padding", big)
			_, err := c.Hello(ctx, &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion})
			return err
		}, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, lis := startCounted(t, agent.Config{Token: testToken})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := tc.call(ctx, client(t, addr, nil))
			if tc.code != codes.OK {
				wantStatus(t, tc.name, err, tc.code)
			} else if err == nil {
				t.Errorf("%s without the token was answered", tc.name)
			}
			// Flow control lets a client send one 64 KiB window before it
			// hears the refusal; the whole call is 64 of them.
			n := lis.read.Load()
			if n > size/16 {
				t.Errorf("the agent read %d bytes of a %d-byte call before refusing it (%v)", n, size, err)
			}
			t.Logf("refused after reading %d bytes: %v", n, err)
		})
	}
}

// Connections that have made no authenticated call are capped: past the
// cap the oldest is closed, while a coordinator's connection, once
// authenticated, is never counted, and a new coordinator still gets in.
func TestUnauthenticatedConnectionsAreCapped(t *testing.T) {
	addr, lis := startCounted(t, agent.Config{Token: testToken})
	coordinator := client(t, addr, testToken)
	if err := hello(coordinator); err != nil {
		t.Fatal(err)
	}
	const extra = 4
	n := agent.MaxPendingConnections + extra
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
		// The agent's first frame (its HTTP/2 settings) says it accepted
		// the connection, so the next one comes after it.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 9)); err != nil {
			t.Fatalf("connection %d: no settings frame from the agent: %v", i+1, err)
		}
	}
	for i, c := range conns[:extra] {
		// A hang guard only: a closed connection reads EOF at once.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("connection %d of %d unauthenticated ones (the cap is %d) is still open: %v", i+1, n, agent.MaxPendingConnections, err)
		}
	}
	if err := hello(coordinator); err != nil {
		t.Errorf("the authenticated coordinator, after the flood: %v", err)
	}
	if got, want := lis.accepted.Load(), int64(1+n); got != want {
		t.Errorf("the agent accepted %d connections, want %d: the coordinator's was closed and made again", got, want)
	}
	if err := hello(client(t, addr, testToken)); err != nil {
		t.Errorf("a new coordinator during the flood: %v", err)
	}
}
