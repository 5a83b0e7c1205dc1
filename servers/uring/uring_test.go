package uring

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
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
			l := handLoop(t, variant.opts)
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
				l.close(l.conns.Get(fds[1]))
				unix.Close(client)
			}
		})
	}
}

// handLoop starts a server of one loop for the test to drive by hand, on
// its locked thread, and frees it when the test ends.
func handLoop(t *testing.T, opts servers.Options) *loop {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	opts.Addr, opts.Loops = "127.0.0.1:0", 1
	srv, err := model().Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := srv.(*Server)
	t.Cleanup(s.close)
	l := s.loops[0]
	if err := l.ring.Enable(); err != nil {
		t.Fatal(err)
	}
	return l
}

// close frees a server started but never served.
func (s *Server) close() {
	for _, l := range s.loops {
		l.closeAll()
		l.release()
	}
	servers.CloseFDs(s.listeners)
}

// Issue #14: when the connections' receives take every provided buffer
// (clients pipelining without reading their answers, on a ring of four),
// the other connections' multishot receives end on ENOBUFS. They wait for
// a recycled buffer rather than being armed again turn after turn. Each
// ENOBUFS completion is then a connection's first or follows a buffer
// brought back: no more than the buffered completions and the connections
// together, where a loop that armed the receives again at once counts one
// per waiting connection and turn. Issue #19: once the loop has stopped
// receiving from those clients, they hold no buffer, so the clients
// beside them are answered while they still do not read; and once they
// read, every request is answered.
func TestStarvedReceivesWaitForABuffer(t *testing.T) {
	real := bufferCount
	bufferCount = 4
	t.Cleanup(func() { bufferCount = real })
	l := handLoop(t, servers.Options{Handler: servers.HandlerStatic})
	// Woken before each turn, the loop never waits.
	l.armWake()

	type client struct {
		fd       int
		pending  []byte // the requests not written yet
		answered int
		want     int
		reading  bool
		seen     []byte
	}
	request := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	var clients []*client
	connect := func(requests int, reading bool, sndbuf int) *client {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[0]) })
		if sndbuf > 0 {
			if err := unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); err != nil {
				t.Fatal(err)
			}
		}
		l.addConn(fds[1], false)
		c := &client{fd: fds[0], pending: bytes.Repeat(request, requests), want: requests, reading: reading}
		clients = append(clients, c)
		return c
	}
	var enobufs, buffered int
	buf := make([]byte, 64<<10)
	status := []byte("HTTP/1.1 ")
	// turn writes and reads what the clients can, then runs one loop
	// iteration (iterate, woken so that it does not wait), counting the
	// receives' completions.
	turn := func() {
		for _, c := range clients {
			if n, err := unix.Write(c.fd, c.pending); err == nil {
				c.pending = c.pending[n:]
			}
			for c.reading {
				n, err := unix.Read(c.fd, buf)
				if err != nil || n == 0 {
					break
				}
				// An answer's status line may straddle two reads.
				c.seen = append(c.seen, buf[:n]...)
				c.answered += bytes.Count(c.seen, status)
				c.seen = c.seen[max(len(c.seen)-len(status)+1, 0):]
			}
		}
		l.wake.Wake()
		l.expire()
		if err := l.ring.SubmitAndWait(1, 0, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		l.quiet = 0
		l.timeouts.Tick()
		for _, cqe := range l.ring.Reap(l.cqes) {
			if cqe.UserData&0xff == opRecv {
				if unix.Errno(-cqe.Res) == unix.ENOBUFS {
					enobufs++
				}
				if _, ok := cqe.BufferID(); ok {
					buffered++
				}
			}
			l.complete(&cqe)
		}
		if l.err != nil {
			t.Fatal(l.err)
		}
	}

	// Small send buffers: the answers stop at once, and the requests that
	// keep coming take the buffers, one at least for each client, until
	// the loop stops receiving from it (or its receive starves).
	for range bufferCount {
		connect(2000, false, 4096)
	}
	hogs := clients
	receiving := func() (n int) {
		for c := range l.conns.All() {
			if !c.paused && !c.starved {
				n++
			}
		}
		return n
	}
	for turns := 0; receiving() > 0; turns++ {
		if turns == 1000 {
			t.Fatalf("after %d turns the loop still receives from %d of the %d clients that do not read", turns, receiving(), len(hogs))
		}
		turn()
	}
	const waiting = 8
	for range waiting {
		connect(1, true, 0)
	}
	answered := func(clients []*client) (n int) {
		for _, c := range clients {
			n += c.answered
		}
		return n
	}
	for turns := 0; answered(clients[len(hogs):]) < waiting; turns++ {
		if turns == 1000 {
			t.Fatalf("while the pipelining clients do not read, %d of the %d clients beside them are answered after %d turns", answered(clients[len(hogs):]), waiting, turns)
		}
		turn()
	}
	for _, c := range hogs {
		c.reading = true
	}
	want := 0
	for _, c := range clients {
		want += c.want
	}
	for turns := 0; answered(clients) < want; turns++ {
		if turns == 100000 {
			t.Fatalf("after %d turns %d requests of %d are answered", turns, answered(clients), want)
		}
		turn()
	}
	t.Logf("%d receives ended on ENOBUFS, %d brought a buffer, for %d connections", enobufs, buffered, len(clients))
	if enobufs > buffered+len(clients) {
		t.Errorf("%d receives ended on ENOBUFS, more than the %d that brought a buffer and the %d connections: the starved receives were armed again without a buffer to take", enobufs, buffered, len(clients))
	}
}

// A loop whose set-up fails after its buffer ring was mapped (a later
// registration refused, or a later loop's set-up in New) is released
// without ever running: nothing of its can be in the kernel, so the
// buffers are unmapped, not left behind with every failed start.
func TestReleaseUnmapsTheBuffersOfALoopThatNeverRan(t *testing.T) {
	started, err := model().Start(servers.Options{Addr: "127.0.0.1:0", Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := started.(*Server)
	defer servers.CloseFDs(srv.listeners)
	l := srv.loops[0]
	// The first buffer starts a page (the ring entries before it fill
	// whole pages), and msync(2) tells an unmapped page by ENOMEM.
	first := l.bufs.Buffer(0)[:os.Getpagesize()]
	if err := unix.Msync(first, unix.MS_ASYNC); err != nil {
		t.Fatalf("the buffer ring is not mapped to begin with: %v", err)
	}
	l.release()
	if err := unix.Msync(first, unix.MS_ASYNC); err != unix.ENOMEM {
		t.Errorf("after release the buffer ring's memory is still mapped (msync: %v)", err)
	}
}

// Issue #19: clients that pipeline requests and never read their answers
// must not starve the others. Once such a client's answers back up, its
// connection stops receiving and holds no provided buffer while it waits,
// so however many they are the other connections find buffers. A client
// beside the crowd, connected before it, and new clients after it are
// answered, with the buffer ring and without.
func TestNonReadingCrowdStarvesNoOne(t *testing.T) {
	off := false
	type crowd struct{ clients, buffers int }
	// Fewer buffers than clients: were a connection that stopped
	// receiving to keep even one, the crowd would hold them all.
	crowds := []crowd{{100, 64}}
	if !testing.Short() {
		crowds = append(crowds, crowd{1000, bufferCount})
	}
	for _, cr := range crowds {
		for _, ring := range []bool{true, false} {
			name := fmt.Sprintf("%d clients, %d buffers", cr.clients, cr.buffers)
			opts := servers.Options{Handler: servers.HandlerStatic, Body: servers.BodyLarge}
			if !ring {
				name = fmt.Sprintf("%d clients, no buffer ring", cr.clients)
				opts.BufferRing = &off
			}
			t.Run(name, func(t *testing.T) {
				real := bufferCount
				bufferCount = cr.buffers
				t.Cleanup(func() { bufferCount = real })
				addr, _ := servertest.Start(t, smallSocketBuffers(t), opts)
				dial := func() (net.Conn, *bufio.Reader) {
					c, err := net.DialTimeout("tcp", addr, time.Minute)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					return patientConn{c}, bufio.NewReader(c)
				}
				beside, br := dial()
				servertest.Get(t, beside, br)
				awaitServerStopsReading(t, pipelineWithoutReading(t, addr, cr.clients))
				servertest.Get(t, beside, br)
				for range 4 {
					c, br := dial()
					servertest.Get(t, c, br)
				}
			})
		}
	}
}

// patientConn stretches the deadline servertest.Get sets, meant for a
// server with nothing else to do, to a hang guard: the server may still
// be answering the crowd when the request comes (seconds under the race
// detector).
type patientConn struct{ net.Conn }

func (c patientConn) SetDeadline(time.Time) error {
	return c.Conn.SetDeadline(time.Now().Add(time.Minute))
}

// smallSocketBuffers is the model with small socket buffers on its
// listeners, which the sockets they accept inherit: the answers to a
// client that does not read then back up after a few, and its requests
// soon after, not after the megabytes that autotuning would grant each
// connection on loopback — a gigabyte of kernel memory for a crowd of a
// thousand.
func smallSocketBuffers(t *testing.T) servers.Model {
	m := model()
	m.New = func(o servers.Options) (servers.Server, error) {
		s, err := New(o)
		if err != nil {
			return nil, err
		}
		for _, fd := range s.listeners {
			for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
				if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 16<<10); err != nil {
					t.Fatal(err)
				}
			}
		}
		return s, nil
	}
	return m
}

// pipelineWithoutReading connects n clients, then has each write requests,
// 256 at a time, never reading, until the test ends or it has written a
// bound. Their receive buffers are small, so the server's answers back
// up soon; their send buffers too, so what they write waits in the
// server's socket rather than theirs.
func pipelineWithoutReading(t *testing.T, addr string, n int) []*net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: time.Minute, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		})
	}}
	var crowd []*net.TCPConn
	var writing sync.WaitGroup
	t.Cleanup(func() {
		for _, c := range crowd {
			c.Close()
		}
		writing.Wait()
	})
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		crowd = append(crowd, c.(*net.TCPConn))
	}
	requests := bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 256)
	for _, c := range crowd {
		writing.Go(func() {
			for range 1 << 16 {
				if _, err := c.Write(requests); err != nil {
					return
				}
			}
		})
	}
	return crowd
}

// awaitServerStopsReading waits until the server reads from none of the
// clients: for each, its socket's receive buffer is full and offers a
// window of zero (TCP_INFO's tcpi_snd_wnd, Linux 5.4). The server may
// still be working through what it took from them. The wait,
// milliseconds to seconds, is bounded by a hang guard.
func awaitServerStopsReading(t *testing.T, clients []*net.TCPConn) {
	t.Helper()
	const hangGuard = time.Minute
	deadline := time.Now().Add(hangGuard)
	for _, c := range clients {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		for {
			var ti *unix.TCPInfo
			rc.Control(func(fd uintptr) {
				ti, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			})
			if err != nil {
				t.Fatalf("TCP_INFO of a client that does not read: %v", err)
			}
			if ti.Snd_wnd == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v the server still reads from a client that does not read (its window: %d bytes)", hangGuard, ti.Snd_wnd)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
