package uring

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing sets up and enables a ring on the test's locked thread.
func newRing(t *testing.T, cfg Config) *Ring {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Enable(); err != nil {
		t.Fatal(err)
	}
	return r
}

// Submitting and waiting is one io_uring_enter, however many SQEs are
// queued, and every completion comes back with its user data.
func TestSubmitAndWaitIsOneEnter(t *testing.T) {
	for _, sqpoll := range []bool{false, true} {
		name := "plain"
		if sqpoll {
			name = "sqpoll"
		}
		t.Run(name, func(t *testing.T) {
			r := newRing(t, Config{Entries: 8, SQPoll: sqpoll})
			const n = 20 // more than the queue holds: SQE submits to make room
			for i := range n {
				sqe, err := r.SQE()
				if err != nil {
					t.Fatal(err)
				}
				sqe.Opcode = uint8(OpNop)
				sqe.UserData = uint64(i + 1)
			}
			seen := map[uint64]bool{}
			cqes := make([]CQE, 0, 64)
			for tries := 0; len(seen) < n && tries < 100; tries++ {
				if err := r.SubmitAndWait(1, 0, time.Second); err != nil {
					t.Fatal(err)
				}
				for _, c := range r.Reap(cqes) {
					if c.Res != 0 || seen[c.UserData] {
						t.Fatalf("completion %+v", c)
					}
					seen[c.UserData] = true
				}
			}
			if len(seen) != n || r.Stats.Completions != n {
				t.Fatalf("%d distinct completions, %d counted; want %d", len(seen), r.Stats.Completions, n)
			}
			if !sqpoll && r.Stats.Enters > n/8+3 {
				t.Errorf("%d enters for %d NOPs in a queue of 8", r.Stats.Enters, n)
			}
		})
	}
}

// Waiting for more completions than one waits for them. Of the two
// submitted, a NOP completes as it is submitted, and the read of a pipe
// only once the test writes to it, which it does after the NOP's
// completion is in the queue: a wait content with one would return with
// the NOP's alone, the read's completion being posted (deferred task
// work) only while the ring's thread is in the kernel. A wait for more
// than will come ends after its patience with what there is.
func TestWaitForMore(t *testing.T) {
	r := newRing(t, Config{})
	if r.features&featMinTimeout == 0 {
		t.Skip("this kernel lacks IORING_FEAT_MIN_TIMEOUT (Linux 6.12): SubmitAndWait waits for one completion")
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	sqe := func() *SQE {
		s, err := r.SQE()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The read first: by the time the NOP's completion shows, the read
	// has found the pipe empty and waits.
	var got [1]byte
	sqe().PrepRead(pipe[0], got[:])
	sqe().Opcode = uint8(OpNop)
	written := make(chan error, 1)
	go func() {
		for atomic.LoadUint32(r.cqTail) == atomic.LoadUint32(r.cqHead) {
			runtime.Gosched()
		}
		_, err := unix.Write(pipe[1], []byte("x"))
		written <- err
	}()
	// A patience longer than the test can take: the wait must end on the
	// two completions, not on the patience.
	if err := r.SubmitAndWait(2, time.Minute, time.Minute); err != nil {
		t.Fatal(err)
	}
	cqes := make([]CQE, 0, 8)
	n := len(r.Reap(cqes))
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("a wait for 2 completions returned with %d", n)
	}

	for range 3 {
		sqe().Opcode = uint8(OpNop)
	}
	enters := r.Stats.Enters
	if err := r.SubmitAndWait(4, time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := r.Reap(cqes); len(got) != 3 || r.Stats.Enters != enters+1 {
		t.Fatalf("want 4: %d completions in %d enters, want 3 in one", len(got), r.Stats.Enters-enters)
	}
}

// A wait with a timeout and nothing in flight ends, without an error.
func TestWaitTimesOut(t *testing.T) {
	r := newRing(t, Config{})
	if err := r.SubmitAndWait(1, 0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := r.Reap(make([]CQE, 0, 4)); len(got) != 0 {
		t.Fatalf("completions %+v from nothing", got)
	}
}

// Multishot accept, a multishot receive into the buffer ring, send and
// close through the registered files, end to end on loopback.
func TestEchoThroughTheRing(t *testing.T) {
	r := newRing(t, Config{})
	k, err := Probe(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Feature{MultishotAccept, MultishotRecv, BufferRings, Ops(OpSend, OpClose, OpFilesUpdate)} {
		if err := k.Check(f); err != nil {
			t.Fatal(err)
		}
	}
	g, err := NewBufferRing(r, 1, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	if err := RegisterFiles(r, 64); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lfd := int32(f.Fd())
	unix.SetNonblock(int(lfd), true)

	const (
		tagAccept = iota + 1
		tagInstall
		tagRecv
		tagSend
	)
	sqe := func() *SQE {
		s, err := r.SQE()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := sqe()
	s.PrepMultishotAccept(Target{FD: lfd})
	s.UserData = tagAccept
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	client.Write([]byte("hello"))

	var conn int32 = -1
	var reply []byte
	cqes := make([]CQE, 0, 16)
	for tries := 0; reply == nil && tries < 50; tries++ {
		if err := r.SubmitAndWait(1, 0, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for _, c := range r.Reap(cqes) {
			switch c.UserData {
			case tagAccept:
				if c.Res < 0 || !c.More() {
					t.Fatalf("accept: %v, more %v", unix.Errno(-c.Res), c.More())
				}
				conn = c.Res
				s := sqe()
				s.PrepInstallFile(&conn, uint32(conn))
				s.UserData = tagInstall
				s = sqe()
				s.PrepMultishotRecv(Target{FD: conn, Fixed: true}, g)
				s.UserData = tagRecv
			case tagInstall:
				if c.Res != 1 {
					t.Fatalf("files update: %d", c.Res)
				}
			case tagRecv:
				bid, has := c.BufferID()
				if c.Res <= 0 || !has {
					t.Fatalf("recv: res %d, buffer %v", c.Res, has)
				}
				reply = append([]byte("echo "), g.Buffer(bid)[:c.Res]...)
				g.Recycle(bid)
				s := sqe()
				s.PrepSend(Target{FD: conn, Fixed: true}, reply)
				s.UserData = tagSend
			}
		}
	}
	if reply == nil {
		t.Fatal("nothing received through the ring")
	}
	if err := r.SubmitAndWait(1, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != "echo hello" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}

	// Closing, as the server does: the armed receive is cancelled (it
	// holds the socket open), the slot emptied, the descriptor closed.
	// Then a send on the slot finds it empty, and the client its end.
	fixed := Target{FD: conn, Fixed: true}
	const (
		tagCancel = iota + tagSend + 1
		tagCloseSlot
		tagCloseFD
		tagSendAfter
	)
	res := map[uint64]int32{}
	await := func(tags ...uint64) {
		for tries := 0; tries < 50; tries++ {
			if err := r.SubmitAndWait(1, 0, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Reap(cqes) {
				res[c.UserData] = c.Res
			}
			done := true
			for _, tag := range tags {
				_, ok := res[tag]
				done = done && ok
			}
			if done {
				return
			}
		}
		t.Fatalf("completions %v, want %v among them", res, tags)
	}
	s = sqe()
	s.PrepCancelFD(fixed)
	s.UserData = tagCancel
	s = sqe()
	s.PrepClose(fixed)
	s.UserData = tagCloseSlot
	s = sqe()
	s.PrepClose(Target{FD: conn})
	s.UserData = tagCloseFD
	await(tagCancel, tagCloseSlot, tagCloseFD)
	if res[tagCancel] != 1 || res[tagCloseSlot] != 0 || res[tagCloseFD] != 0 {
		t.Fatalf("cancel: %d (want the receive, 1), closing the slot: %d, the descriptor: %d (want 0 each)", res[tagCancel], res[tagCloseSlot], res[tagCloseFD])
	}
	s = sqe()
	s.PrepSend(fixed, reply)
	s.UserData = tagSendAfter
	await(tagSendAfter)
	if got := unix.Errno(-res[tagSendAfter]); got != unix.EBADF {
		t.Errorf("a send on the closed slot: %d (%v), want EBADF", res[tagSendAfter], got)
	}
	if n, err := client.Read(buf); err != io.EOF {
		t.Errorf("after the close through the ring the client read %q, %v; want EOF", buf[:n], err)
	}
}

// The probe's refusal names the feature, what is missing and the kernel.
func TestCheckNamesWhatIsMissing(t *testing.T) {
	cases := []struct {
		kernel Kernel
		f      Feature
		want   string // "" = no error
	}{
		{FakeKernel("6.18.4", OpAccept), MultishotAccept, ""},
		{FakeKernel("5.15.0-91-generic", OpAccept), MultishotAccept, "this kernel (5.15.0-91-generic) lacks multishot accept (IORING_ACCEPT_MULTISHOT), which came with Linux 5.19"},
		{FakeKernel("6.18.4", OpRecv), Ops(OpRecv, OpSend), "this kernel (6.18.4) lacks IORING_OP_RECV, IORING_OP_SEND: io_uring's probe does not list IORING_OP_SEND, Linux 5.6"},
		{FakeKernel("5.19.0"), BufferRings, ""},
		{FakeKernel("5.18.9"), BufferRings, "which came with Linux 5.19"},
		{FakeKernel("unreadable", OpRecv), MultishotRecv, ""},
	}
	for _, tc := range cases {
		err := tc.kernel.Check(tc.f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s on %s: %v", tc.f.Name, tc.kernel.Release, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s on %s: %v; want it to say %q", tc.f.Name, tc.kernel.Release, err, tc.want)
		}
	}
}

// A connect through the ring completes once the handshake has, as a load
// generator's connections will.
func TestConnectThroughTheRing(t *testing.T) {
	r := newRing(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	port := ln.Addr().(*net.TCPAddr).Port
	sa.Port = uint16(port>>8) | uint16(port&0xff)<<8 // network byte order
	s, err := r.SQE()
	if err != nil {
		t.Fatal(err)
	}
	s.PrepConnect(Target{FD: int32(fd)}, unsafe.Pointer(&sa), uint32(unsafe.Sizeof(sa)))
	s.UserData = 7
	var got []CQE
	for tries := 0; len(got) == 0 && tries < 50; tries++ {
		if err := r.SubmitAndWait(1, 0, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		got = r.Reap(make([]CQE, 0, 4))
	}
	if len(got) != 1 || got[0].UserData != 7 || got[0].Res != 0 {
		t.Fatalf("connect completions %+v, want one with res 0", got)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the listener saw no connection: %v", err)
	}
	c.Close()
}
