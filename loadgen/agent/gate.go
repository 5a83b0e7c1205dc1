package agent

import (
	"net"
	"sync"
)

// MaxPendingConnections bounds the connections an agent holds that have
// made no authenticated call yet. Each costs the agent gRPC's buffers, a
// TLS state and goroutines whoever opened it; a coordinator needs one or
// two.
const MaxPendingConnections = 32

// gate is the agent's listener: it holds at most MaxPendingConnections
// connections that have not yet authenticated, closing the oldest to let
// a new one in, so that idle or refused callers cannot pile up, and cannot
// keep a coordinator out by holding the places either.
type gate struct {
	net.Listener
	mu      sync.Mutex
	pending map[string]*gatedConn
	// accepted numbers the connections, so the oldest is the lowest.
	accepted uint64
}

func newGate(l net.Listener) *gate {
	return &gate{Listener: l, pending: map[string]*gatedConn{}}
}

// connKey names a connection by both its ends, as the gate and gRPC's
// peer (what the tap handle sees of a call) both know it.
func connKey(local, remote net.Addr) string {
	return local.String() + " " + remote.String()
}

func (g *gate) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &gatedConn{Conn: c, gate: g, key: connKey(c.LocalAddr(), c.RemoteAddr())}
	var oldest *gatedConn
	g.mu.Lock()
	g.accepted++
	gc.seq = g.accepted
	if len(g.pending) >= MaxPendingConnections {
		for _, p := range g.pending {
			if oldest == nil || p.seq < oldest.seq {
				oldest = p
			}
		}
		delete(g.pending, oldest.key)
	}
	g.pending[gc.key] = gc
	g.mu.Unlock()
	if oldest != nil {
		oldest.Conn.Close()
	}
	return gc, nil
}

// admit takes the connection of key off the count: a call on it was
// authenticated.
func (g *gate) admit(key string) {
	g.mu.Lock()
	delete(g.pending, key)
	g.mu.Unlock()
}

type gatedConn struct {
	net.Conn
	gate *gate
	key  string
	seq  uint64
}

func (c *gatedConn) Close() error {
	c.gate.mu.Lock()
	if c.gate.pending[c.key] == c {
		delete(c.gate.pending, c.key)
	}
	c.gate.mu.Unlock()
	return c.Conn.Close()
}
