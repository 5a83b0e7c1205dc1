package all

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

// readStatus reads one response and returns its status code.
func readStatus(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("status line: %v", err)
	}
	code, _ := strconv.Atoi(strings.Fields(line)[1])
	length := 0
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("headers: %v", err)
		}
		if h == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if _, err := br.Discard(length); err != nil {
		t.Fatalf("body: %v", err)
	}
	return code
}

// The servers' own counters are exact: they are what the runner divides
// CPU time by.
func TestStatsCountExactly(t *testing.T) {
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			addr, stop := servertest.Start(t, m, servers.Options{})
			c, br := dial(t, addr)
			const keepAlive = 25
			for i := 0; i < keepAlive; i++ {
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				if code := readStatus(t, br); code != 200 {
					t.Fatalf("request %d: %d", i, code)
				}
			}
			c.Write([]byte("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"))
			if code := readStatus(t, br); code != 404 {
				t.Fatalf("unknown path: %d", code)
			}
			c.Close()
			const closing = 5
			for i := 0; i < closing; i++ {
				c, br := dial(t, addr)
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
				readStatus(t, br)
				if _, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("connection not closed after Connection: close: %v", err)
				}
				c.Close()
			}
			st := stop()
			if st.Requests != keepAlive+1+closing || st.Errors != 1 || st.Connections != 1+closing {
				t.Fatalf("stats %+v: want %d requests, 1 error, %d connections", st, keepAlive+1+closing, 1+closing)
			}
			if st.Server != m.Name || st.AcceptCalls < st.Connections {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// Stream mode counts exactly the bytes the client sent.
func TestStreamCountsBytes(t *testing.T) {
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			addr, stop := servertest.Start(t, m, servers.Options{Stream: true})
			const total = 3 << 20
			chunk := make([]byte, 64<<10)
			for i := 0; i < 2; i++ {
				c, _ := dial(t, addr)
				for sent := 0; sent < total/2; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						t.Fatal(err)
					}
				}
				c.(*net.TCPConn).CloseWrite()
				// The server closes its side once it has read everything.
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("sink did not close after EOF: %v", err)
				}
				c.Close()
			}
			if st := stop(); st.BytesRead != total {
				t.Fatalf("read %d bytes, sent %d", st.BytesRead, total)
			}
		})
	}
}

// A server under load stops promptly when its context ends, and leaves no
// goroutine behind.
func TestStopUnderLoadLeaksNothing(t *testing.T) {
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			addr, stop := servertest.Start(t, m, servers.Options{})
			done := make(chan struct{})
			finished := make(chan struct{})
			const clients = 20
			for i := 0; i < clients; i++ {
				go func() {
					defer func() { finished <- struct{}{} }()
					c, err := net.DialTimeout("tcp", addr, time.Second)
					if err != nil {
						return
					}
					defer c.Close()
					buf := make([]byte, 4096)
					for n := 0; n < 100000; n++ {
						select {
						case <-done:
							return
						default:
						}
						c.SetDeadline(time.Now().Add(2 * time.Second))
						if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
							return
						}
						if _, err := c.Read(buf); err != nil {
							return
						}
					}
				}()
			}
			c, br := dial(t, addr)
			c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			readStatus(t, br)
			c.Close()
			began := time.Now()
			stop()
			if took := time.Since(began); took > 2*time.Second {
				t.Fatalf("stop under load took %v", took)
			}
			close(done)
			for i := 0; i < clients; i++ {
				<-finished
			}
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				runtime.Gosched()
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<16)
				t.Fatalf("%d goroutines after stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// Every model a knob of the table names is registered: a misspelt name
// would make the knob refused everywhere.
func TestKnobModelsAreRegistered(t *testing.T) {
	for _, k := range servers.Knobs {
		for _, name := range k.Models {
			if _, err := servers.Lookup(name); err != nil {
				t.Errorf("knob %s: %v", k.Name, err)
			}
		}
	}
}

// A client that pipelines thousands of requests while it reads the
// answers slowly (a small receive buffer) gets every answer, in order:
// the server stops reading while its answers wait, holds what it had
// already taken, and goes on once they drain — never a lost request, a
// hang or an unbounded buffer.
func TestDeepPipeliningWithASlowReader(t *testing.T) {
	const requests = 20000
	request := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			addr, stop := servertest.Start(t, m, servers.Options{Handler: servers.HandlerStatic})
			d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
			}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			written := make(chan error, 1)
			go func() {
				all := bytes.Repeat(request, requests)
				_, err := c.Write(all)
				written <- err
			}()
			br := bufio.NewReaderSize(c, 512)
			for i := range requests {
				if code := readStatus(t, br); code != 200 {
					t.Fatalf("answer %d: status %d", i, code)
				}
			}
			if err := <-written; err != nil {
				t.Fatalf("writing the requests: %v", err)
			}
			c.Close()
			if st := stop(); st.Requests != requests {
				t.Fatalf("the server counts %d requests, %d were sent", st.Requests, requests)
			}
		})
	}
}
