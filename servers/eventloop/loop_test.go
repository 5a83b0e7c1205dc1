package eventloop

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
	"github.com/sockbench/sockbench/servers/servertest"
)

var kinds = []netpoll.Kind{netpoll.KindEpoll, netpoll.KindPoll, netpoll.KindSelect}

// newServer binds a one-loop server of the given kind on a free loopback
// port, with the defaults a user gets, through the same Model.Start the
// registered models use.
func newServer(t *testing.T, kind netpoll.Kind, opts servers.Options) *Server {
	t.Helper()
	m := servers.Model{Name: string(kind), New: func(o servers.Options) (servers.Server, error) {
		return New(kind, string(kind), o)
	}}
	opts.Addr, opts.Loops = "127.0.0.1:0", 1
	srv, err := m.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv.(*Server)
}

// serve runs s until the test ends, and checks then that it stops
// promptly.
func serve(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("Serve still running 2s after cancel")
		}
	})
}

// waitSyscall is the syscall each poller waits in, and waitSyscalls how
// many of them one Wait makes at most: epoll first looks without blocking
// (see Epoll.wait), poll and select block at once.
var (
	waitSyscall  = map[netpoll.Kind]netpoll.Syscall{netpoll.KindEpoll: netpoll.SysEpollWait, netpoll.KindPoll: netpoll.SysPoll, netpoll.KindSelect: netpoll.SysSelect}
	waitSyscalls = map[netpoll.Kind]uint64{netpoll.KindEpoll: 2, netpoll.KindPoll: 1, netpoll.KindSelect: 1}
)

// Issue #8: a loop with nothing to do blocks in its poller until there is
// work or a stop; it does not wake on a timer. Between two probes 300 ms
// apart, on a keep-alive connection left idle, the loop makes only the
// one Wait the second probe's wake-up ends, and the read that resets it.
func TestIdleLoopMakesNoSyscalls(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, kind, servers.Options{})
			// Buffered, so a failing test cannot leave the loop blocked
			// on a probe nobody reads.
			probes := make(chan netpoll.Syscalls, 4)
			s.probe = func(sc netpoll.Syscalls) { probes <- sc }
			serve(t, s)
			probe := func() netpoll.Syscalls {
				t.Helper()
				s.loops[0].poller.Wake()
				select {
				case sc := <-probes:
					return sc
				case <-time.After(5 * time.Second):
					t.Fatal("a woken loop did not answer the probe within 5s")
				}
				return netpoll.Syscalls{}
			}
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			servertest.Get(t, c, br)

			before := probe()
			// Not a synchronisation: staying put over this stretch is the
			// behaviour under test (the loops used to wake every 100 ms).
			time.Sleep(300 * time.Millisecond)
			after := probe()
			for sys := range after {
				sys := netpoll.Syscall(sys)
				var allowed uint64
				switch sys {
				case waitSyscall[kind]:
					allowed = waitSyscalls[kind]
				case netpoll.SysRead:
					allowed = 1
				}
				if grew := after[sys] - before[sys]; grew > allowed {
					t.Errorf("idle for 300ms, the loop made %d %s calls, want at most %d", grew, sys, allowed)
				}
			}
			// Still serving after the idle stretch.
			servertest.Get(t, c, br)
		})
	}
}

// A lingering close must still end on time now that nothing wakes an idle
// loop: while a connection lingers, the loop's wait has a deadline. The
// client sends nothing after the error answer until the linger time has
// passed; then its byte must meet a closed socket (a reset), not a
// lingering one that reads and drops it.
func TestLingeringCloseEndsOnTime(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, kind, servers.Options{})
			serve(t, s)
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(http1.LingerTime + 5*time.Second))
			if _, err := c.Write([]byte("NOT HTTP AT ALL\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("status %d for garbage, want an error answer (which lingers)", resp.StatusCode)
			}
			// The behaviour under test is timed: the close is due after
			// LingerTime.
			time.Sleep(http1.LingerTime + 300*time.Millisecond)
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			// The server's FIN came long ago, so a read would say EOF at
			// once; the reset shows as an error condition on the socket.
			if re := awaitSocketError(t, c, 3*time.Second); re&unix.POLLERR == 0 {
				t.Fatalf("a byte sent after the linger time met no reset (poll revents %#x): the connection still lingers", re)
			}
		})
	}
}

// The raw servers' request path — read, parse, answer, write — must not
// allocate (STYLE.md: no allocation per request). Requests go into the
// loop's own read/parse/write path through a socketpair, and the answers
// are read back from the other end. The total over many requests is
// checked, so an allocation every so many requests shows too.
func TestRequestPathAllocatesNothing(t *testing.T) {
	cases := []struct {
		name, request, status string
		// answers is how many answers one request write gets.
		answers int
		// perRequest: a fresh connection for every request, which the
		// server closes, so closing and reusing connections is measured.
		perRequest bool
	}{
		{"keep-alive", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 ", 1, false},
		{"pipelined", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 ", 3, false},
		{"not found", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 ", 1, false},
		{"connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 ", 1, true},
	}
	for _, kind := range kinds {
		for _, handler := range []servers.Handler{servers.HandlerStatic, servers.HandlerTemplate} {
			t.Run(string(kind)+"/"+string(handler), func(t *testing.T) {
				s := newServer(t, kind, servers.Options{Handler: handler})
				l := s.loops[0]
				t.Cleanup(func() {
					l.closeAll()
					l.poller.Close()
					for _, fd := range s.listeners {
						unix.Close(fd)
					}
				})
				answer := make([]byte, 64<<10)
				for _, tc := range cases {
					var client int
					var c *conn
					connect := func() {
						fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
						if err != nil {
							t.Fatal(err)
						}
						client = fds[0]
						l.addConn(fds[1], netip.Addr{})
						c = l.conns.Get(fds[1])
					}
					if !tc.perRequest {
						connect()
					}
					request := []byte(tc.request)
					roundTrip := func() {
						if tc.perRequest {
							connect()
						}
						if n, err := unix.Write(client, request); err != nil || n != len(request) {
							t.Fatalf("%s: writing the request: %d, %v", tc.name, n, err)
						}
						l.ready(c, netpoll.Readable)
						// The loop wrote every answer before ready returned.
						n, err := unix.Read(client, answer)
						if err != nil || bytes.Count(answer[:n], []byte(tc.status)) != tc.answers {
							t.Fatalf("%s: got %q, %v; want %d answers starting %q", tc.name, answer[:n], err, tc.answers, tc.status)
						}
						if tc.perRequest {
							if n, err := unix.Read(client, answer); n != 0 || err != nil {
								t.Fatalf("%s: connection not closed after its answer: %d, %v", tc.name, n, err)
							}
							unix.Close(client)
						}
					}
					servertest.NoAllocs(t, tc.name, 500, roundTrip)
					if !tc.perRequest {
						l.close(c)
						unix.Close(client)
					}
				}
			})
		}
	}
}

// awaitSocketError waits up to d for an error or hang-up on c's socket and
// returns poll's revents (0 when none came).
func awaitSocketError(t *testing.T, c net.Conn, d time.Duration) int16 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fds [1]unix.PollFd
	rc.Control(func(fd uintptr) {
		// No events asked for: poll then reports only POLLERR and POLLHUP.
		fds[0].Fd = int32(fd)
		for deadline := time.Now().Add(d); ; {
			_, err := unix.Poll(fds[:], int(time.Until(deadline).Milliseconds()))
			if err != unix.EINTR || time.Now().After(deadline) {
				return
			}
		}
	})
	return fds[0].Revents
}
