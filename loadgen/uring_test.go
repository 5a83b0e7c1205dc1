package loadgen

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/uring"
)

// A kernel without what the io_uring I/O needs is refused before the
// attack starts, naming what it lacks and the way out. The probe's answer
// is faked: the kernel here has it all.
func TestUringRefusesAKernelLackingAFeature(t *testing.T) {
	s := newTestServer(t, answerOK)
	all := []uring.Op{uring.OpConnect, uring.OpSend, uring.OpRecv, uring.OpRead, uring.OpClose, uring.OpAsyncCancel}
	for _, tc := range []struct {
		name   string
		kernel uring.Kernel
		want   string
	}{
		{"no multishot receive", uring.FakeKernel("5.19.0", all...),
			"--io uring: this kernel (5.19.0) lacks multishot receive (IORING_RECV_MULTISHOT), which came with Linux 6.0; the default, --io epoll, needs none of it"},
		{"no send", uring.FakeKernel("6.18.0", uring.OpConnect, uring.OpRecv, uring.OpRead, uring.OpClose, uring.OpAsyncCancel),
			"--io uring: this kernel (6.18.0) lacks IORING_OP_CONNECT, IORING_OP_SEND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real := probe
			t.Cleanup(func() { probe = real })
			probe = func(*uring.Ring) (uring.Kernel, error) { return tc.kernel, nil }
			r, err := Run(context.Background(), Options{URL: s.url, IO: IOUring, Connections: 2, MaxRequests: 10})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (result %v), want one containing %q", err, r != nil, tc.want)
			}
			if got := s.requests.Load(); got != 0 {
				t.Errorf("the server got %d requests from an attack that was refused", got)
			}
		})
	}
}

// io_uring is the closed-loop engine's: open and stream mode refuse it.
func TestUringIsTheClosedEnginesOnly(t *testing.T) {
	for _, o := range []Options{
		{Mode: Open, Rate: 100, URL: "http://127.0.0.1:1/"},
		{Mode: Stream, URL: "tcp://127.0.0.1:1"},
	} {
		o.IO = IOUring
		var oe *OptionError
		err := o.Check(FlagName)
		if !errors.As(err, &oe) || oe.Option != "io" || !strings.Contains(oe.Msg, "closed-loop engine") {
			t.Errorf("%s mode with --io uring: %v, want a refusal of --io", o.Mode, err)
		}
	}
	if err := (Options{URL: "http://127.0.0.1:1/", IO: "kqueue"}).Check(FlagName); err == nil || err.Error() != `--io "kqueue": want one of epoll, uring` {
		t.Errorf("unknown I/O: %v", err)
	}
}

// Both I/Os reach an IPv6 target (the ring's connect takes the socket
// address as the kernel reads it), every request counted by the server.
func TestIPv6Loopback(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		s := newTestServerOn(t, "[::1]:0", answerOK)
		r := run(t, Options{IO: ioMode, URL: s.url, Connections: 4, Threads: 1, MaxRequests: 500})
		if r.Requests != 500 || s.requests.Load() != 500 || r.Errors.Total() != 0 {
			t.Errorf("%s: %d answered, the server read %d, errors %+v: want 500 each", s.url, r.Requests, s.requests.Load(), r.Errors)
		}
	})
}

// A connection given up on (its answer timed out) is closed at once, on
// both I/Os: the server sees its end while the attack goes on. On
// io_uring the armed receive would hold the socket open, unseen by the
// server, until the ring closes, were it not cancelled first.
func TestTimedOutConnectionsCloseAtOnce(t *testing.T) {
	eachIO(t, func(t *testing.T, ioMode IO) {
		var ended atomic.Int64
		s := newTestServer(t, func(_ int64, c net.Conn) bool {
			var b [1]byte
			c.Read(b[:])
			ended.Add(1)
			return false
		})
		var seen atomic.Int64
		seen.Store(-1)
		r := run(t, Options{IO: ioMode, URL: s.url, Connections: 2, Threads: 1, Timeout: 50 * time.Millisecond, Duration: 1500 * time.Millisecond,
			Progress: func(sec Second) {
				if sec.T == 0 {
					seen.Store(ended.Load())
				}
			}})
		if r.Errors.Timeout == 0 {
			t.Fatalf("errors %+v: want timeouts", r.Errors)
		}
		if got := seen.Load(); got < 1 {
			t.Errorf("after the first second of %d timeouts the server had seen %d connections end, want them ended as they timed out", r.Errors.Timeout, got)
		}
	})
}
