package workerpool

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// Past its cap the pool refuses a connection (closes it at once) and
// counts it, instead of queueing without bound.
func TestWorkersCapRefuses(t *testing.T) {
	m, err := servers.Lookup("workerpool")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(servers.Options{Addr: "127.0.0.1:0", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		// A full exchange proves a worker owns this connection.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, err := c.Read(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
	}
	extra, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	extra.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if n, err := extra.Read(make([]byte, 4096)); err != io.EOF && !isReset(err) {
		t.Fatalf("third connection over a cap of 2: read %d bytes, %v; want it closed", n, err)
	}
	extra.Close()
	for _, c := range conns {
		c.Close()
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Refused != 1 || st.Requests != 2 {
		t.Fatalf("stats %+v: want 1 refused, 2 requests", st)
	}
}

func isReset(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && ne.Err != nil && (ne.Err.Error() == "read: connection reset by peer")
}

// A worker serves one connection after another with the same buffers; a
// client that leaves half a request behind must not have it parsed as the
// next client's (the next client on a pool of one is on the same worker).
func TestNoBytesCarriedAcrossConnections(t *testing.T) {
	m, err := servers.Lookup("workerpool")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := m.Start(servers.Options{Addr: "127.0.0.1:0", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	a, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a.SetDeadline(time.Now().Add(5 * time.Second))
	a.Write([]byte("GET /admin-of-client-a HTTP/1.1\r\nX-Pad: "))
	a.(*net.TCPConn).CloseWrite()
	// The server closing A is the worker being done with it.
	if _, err := io.Copy(io.Discard, a); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetDeadline(time.Now().Add(5 * time.Second))
	b.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	status := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(b, status); err != nil || string(status) != "HTTP/1.1 200" {
		t.Fatalf("client B got %q, %v; want its own page", status, err)
	}
}
