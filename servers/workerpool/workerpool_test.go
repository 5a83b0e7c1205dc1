package workerpool

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

// start runs a worker pool on a free loopback port until the test ends.
func start(t *testing.T, opts servers.Options) (addr string, stop func() servers.Stats) {
	t.Helper()
	m, err := servers.Lookup("workerpool")
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Start(t, m, opts)
}

// Past its cap the pool refuses a connection, instead of queueing without
// bound: it answers 503 with Connection: close and closes, so the client
// can tell a full server from a broken one, and counts it.
func TestWorkersCapRefuses(t *testing.T) {
	addr, stop := start(t, servers.Options{Workers: 2})
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
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
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(extra)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("third connection over a cap of 2: %v; want a 503 answer", err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || !resp.Close || err != nil {
		t.Fatalf("third connection over a cap of 2: %s, close %v, body %q, %v; want 503 Service Unavailable with Connection: close", resp.Status, resp.Close, body, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("third connection over a cap of 2: after the 503, %v; want the connection closed", err)
	}
	extra.Close()
	for _, c := range conns {
		c.Close()
	}
	if st := stop(); st.Refused != 1 || st.Requests != 2 {
		t.Fatalf("stats %+v: want 1 refused, 2 requests", st)
	}
}

// A worker serves one connection after another with the same buffers; a
// client that leaves half a request behind must not have it parsed as the
// next client's (the next client on a pool of one is on the same worker).
func TestNoBytesCarriedAcrossConnections(t *testing.T) {
	addr, _ := start(t, servers.Options{Workers: 1})
	a, err := net.Dial("tcp", addr)
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
	b, err := net.Dial("tcp", addr)
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

// Issue #9: clients that send half a request used to hold their workers
// for ever, and as many of them as the cap locked every other client
// out. The header timeout gives the workers back.
func TestStalledClientsReleaseWorkers(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, _ := start(t, servers.Options{Workers: 2, HeaderTimeout: timeout})
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
	}
	// Past the timeout (bounded: a pool that stays locked fails here),
	// a new client is served.
	deadline := time.Now().Add(timeout + 5*time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(deadline)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 200 {
			return
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("status %d; want the page once the stalled clients are gone", resp.StatusCode)
		}
		time.Sleep(timeout / 4)
	}
}
