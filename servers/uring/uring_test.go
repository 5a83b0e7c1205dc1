package uring

import (
	"bufio"
	"bytes"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	iouring "github.com/sockbench/sockbench/internal/uring"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

// model is the registered model; package variables are set before init
// registers it.
func model() servers.Model {
	m, err := servers.Lookup("uring")
	if err != nil {
		panic(err)
	}
	return m
}

// On a kernel that lacks a feature the options ask for, the server is
// refused before it serves, with a sentence naming the feature, the
// kernel and the knob that does without it; without the feature's knob
// the same kernel runs it. The probe's answer is faked: the kernel here
// has everything.
func TestRefusesWhatTheKernelLacks(t *testing.T) {
	every := []iouring.Op{iouring.OpAccept, iouring.OpRecv, iouring.OpSend, iouring.OpRead, iouring.OpClose, iouring.OpShutdown, iouring.OpAsyncCancel, iouring.OpFilesUpdate}
	off := false
	cases := []struct {
		name   string
		kernel iouring.Kernel
		opts   servers.Options
		want   string // "" = starts
	}{
		{"multishot receive on 5.19", iouring.FakeKernel("5.19.0", every...), servers.Options{},
			"this kernel (5.19.0) lacks multishot receive (IORING_RECV_MULTISHOT), which came with Linux 6.0; run without it: --buffer-ring=false"},
		{"5.19 without the buffer ring", iouring.FakeKernel("5.19.0", every...), servers.Options{BufferRing: &off}, ""},
		{"no files update", iouring.FakeKernel("6.18.0", every[:7]...), servers.Options{},
			"this kernel (6.18.0) lacks IORING_OP_FILES_UPDATE: io_uring's probe does not list IORING_OP_FILES_UPDATE, Linux 5.6; run without it: --fixed-files=false"},
		{"no files update, none used", iouring.FakeKernel("6.18.0", every[:7]...), servers.Options{FixedFiles: &off}, ""},
		// Multishot accept came with cancelling by descriptor, which the
		// model cannot do without.
		{"5.15", iouring.FakeKernel("5.15.0", every...), servers.Options{BufferRing: &off, MultishotAccept: &off},
			"this kernel (5.15.0) lacks cancelling by descriptor (IORING_ASYNC_CANCEL_FD), which came with Linux 5.19; the uring model needs it, use another model (epoll)"},
		{"no send at all", iouring.FakeKernel("6.18.0", iouring.OpAccept, iouring.OpRecv), servers.Options{},
			"lacks IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ, IORING_OP_CLOSE, IORING_OP_SHUTDOWN: io_uring's probe does not list IORING_OP_SEND, Linux 5.6; the uring model needs it, use another model (epoll)"},
	}
	real := probe
	t.Cleanup(func() { probe = real })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			probe = func(*iouring.Ring) (iouring.Kernel, error) { return tc.kernel, nil }
			tc.opts.Addr = "127.0.0.1:0"
			srv, err := model().Start(tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
				srv.(*Server).close()
			case err == nil:
				srv.(*Server).close()
				t.Fatalf("started; want the refusal %q", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused with %q; want it to say %q", err, tc.want)
			}
		})
	}
}

// Linux copies TCP_NODELAY from a listener to the sockets it accepts:
// the server sets it once, on the listener, instead of once per
// connection.
func TestAcceptedSocketsInheritNoDelay(t *testing.T) {
	for _, nodelay := range []int{0, 1} {
		fd, err := servers.ListenFD("127.0.0.1:0", 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, nodelay); err != nil {
			t.Fatal(err)
		}
		addr, _ := servers.SockAddr(fd)
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var afd int
		for range 1000 {
			if afd, _, err = unix.Accept4(fd, unix.SOCK_CLOEXEC); err != unix.EAGAIN {
				break
			}
			runtime.Gosched()
		}
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(afd)
		if got, err := unix.GetsockoptInt(afd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || (got != 0) != (nodelay != 0) {
			t.Fatalf("listener TCP_NODELAY %d: accepted socket has %d (%v)", nodelay, got, err)
		}
	}
}

// With submit_batch a loop makes one io_uring_enter per turn whatever it
// submits; without it, one more per operation. The counts are exact
// enough to compare over a hundred keep-alive requests.
func TestBatchingSavesEnters(t *testing.T) {
	off := false
	enters := map[bool]uint64{}
	for _, batch := range []bool{true, false} {
		opts := servers.Options{}
		if !batch {
			opts.SubmitBatch = &off
		}
		addr, stop := servertest.Start(t, model(), opts)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		const requests = 100
		for range requests {
			servertest.Get(t, c, br)
		}
		c.Close()
		st := stop()
		if st.Requests != requests || st.Completions == 0 || st.CompletionsPerEnter == 0 {
			t.Fatalf("stats %+v", st)
		}
		enters[batch] = st.Syscalls[servers.SyscallIOUringEnter]
		t.Logf("submit_batch %v: %d io_uring_enter calls, %.2f completions each, for %d requests", batch, enters[batch], st.CompletionsPerEnter, requests)
	}
	if enters[true] >= enters[false] {
		t.Errorf("%d io_uring_enter calls with submit_batch, %d without: batching saves none", enters[true], enters[false])
	}
}

// Issue #8, for io_uring: a loop with nothing to do waits in its one
// io_uring_enter until there is work or a stop; it does not wake on a
// timer. Two requests on a connection with 300 ms of idleness between
// them make as many enters as two requests back to back, within the two
// that scheduling can move (an accept and its first bytes seen in one
// enter or two); a loop waking every 50 ms would make six more.
func TestIdleLoopMakesNoSyscalls(t *testing.T) {
	enters := func(idle time.Duration) uint64 {
		addr, stop := servertest.Start(t, model(), servers.Options{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		servertest.Get(t, c, br)
		// Not a synchronisation: staying put over this stretch is the
		// behaviour under test.
		time.Sleep(idle)
		servertest.Get(t, c, br)
		return stop().Syscalls[servers.SyscallIOUringEnter]
	}
	busy, idle := enters(0), enters(300*time.Millisecond)
	if idle > busy+2 {
		t.Errorf("%d io_uring_enter calls with 300ms idle between two requests, %d without: the idle loop woke", idle, busy)
	}
}

// TestRequestPathAllocatesNothing drives one loop by hand, on the test's
// locked thread: a request written into a socketpair, loop turns until
// its answer is back. The total over many requests is checked, so an
// allocation every so many requests shows too.
func TestRequestPathAllocatesNothing(t *testing.T) {
	off := false
	cases := []struct {
		name, request string
		answers       int
	}{
		{"keep-alive", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1},
		{"pipelined", strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 16), 16},
		{"not found", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 1},
	}
	for _, variant := range []struct {
		name string
		opts servers.Options
	}{
		{"defaults", servers.Options{}},
		{"static", servers.Options{Handler: servers.HandlerStatic}},
		{"no buffer ring, no fixed files", servers.Options{BufferRing: &off, FixedFiles: &off}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			variant.opts.Addr, variant.opts.Loops = "127.0.0.1:0", 1
			srv, err := model().Start(variant.opts)
			if err != nil {
				t.Fatal(err)
			}
			s := srv.(*Server)
			defer s.close()
			l := s.loops[0]
			if err := l.ring.Enable(); err != nil {
				t.Fatal(err)
			}
			answer := make([]byte, 64<<10)
			for _, tc := range cases {
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				client := fds[0]
				l.addConn(fds[1], false)
				request := []byte(tc.request)
				status := []byte("HTTP/1.1 ")
				roundTrip := func() {
					if n, err := unix.Write(client, request); err != nil || n != len(request) {
						t.Fatalf("%s: writing the request: %d, %v", tc.name, n, err)
					}
					got := 0
					for turns := 0; bytes.Count(answer[:got], status) < tc.answers; turns++ {
						if turns == 1000 {
							t.Fatalf("%s: %d bytes of answers after %d loop turns: %q", tc.name, got, turns, answer[:got])
						}
						if err := l.iterate(); err != nil {
							t.Fatal(err)
						}
						if n, err := unix.Read(client, answer[got:]); err == nil {
							got += n
						}
					}
				}
				servertest.NoAllocs(t, tc.name, 200, roundTrip)
				l.close(l.conns[fds[1]])
				unix.Close(client)
			}
		})
	}
}

// close frees a server started but never served.
func (s *Server) close() {
	for _, l := range s.loops {
		l.closeAll()
		l.release()
	}
	servers.CloseFDs(s.listeners)
}
