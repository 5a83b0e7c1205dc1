package http1

import (
	"net"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// memConn serves the same request over and over and swallows the answers:
// the blocking loop with no kernel in the way, so allocations are ours.
type memConn struct {
	net.Conn
	req     []byte
	reads   int
	written int
}

func (c *memConn) Read(p []byte) (int, error) { c.reads++; return copy(p, c.req), nil }
func (c *memConn) Write(p []byte) (int, error) {
	c.written += len(p)
	return len(p), nil
}
func (c *memConn) SetDeadline(time.Time) error { return nil }

func TestServeBufferedAllocatesNothing(t *testing.T) {
	p, err := NewPage("t", servers.Options{Handler: servers.HandlerTemplate, Body: servers.BodySmall})
	if err != nil {
		t.Fatal(err)
	}
	nc := &memConn{req: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}
	var c Conn
	c.Reset(p, &Counters{}, loopback)
	b := GetBuffers()
	var tr Traffic
	allocs := testing.AllocsPerRun(1000, func() {
		n, _ := nc.Read(b.in[:cap(b.in)])
		b.in = b.in[:n]
		if done, err := serveBuffered(nc, &c, b, &tr); done || err != nil {
			t.Fatalf("done %v err %v", done, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per request on a kept-alive connection", allocs)
	}
	if nc.written == 0 {
		t.Fatal("nothing written")
	}
}
