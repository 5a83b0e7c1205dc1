package servers

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SomaxconnPath is where Linux keeps the cap on every listen backlog.
const SomaxconnPath = "/proc/sys/net/core/somaxconn"

// Somaxconn reads the kernel's backlog cap; listen(2) silently truncates any
// larger backlog to it.
func Somaxconn() (int, error) {
	b, err := os.ReadFile(SomaxconnPath)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// EffectiveBacklog is the backlog listen(2) will really use for a request.
func EffectiveBacklog(requested int) int {
	max, err := Somaxconn()
	if err != nil || max <= 0 {
		max = 4096
	}
	if requested <= 0 || requested > max {
		return max
	}
	return requested
}

// NextAcceptBackoff is how long an accept loop pauses after a failed
// accept, given its pause after the failure before (0 after a success):
// doubling from 5ms to a second, as net/http's Serve does. Out of
// descriptors, accept fails at once and the listener stays readable, so a
// loop that retried at once would spin on a core until a connection
// closed (issue #9); one that gave up would leave the server deaf.
func NextAcceptBackoff(last time.Duration) time.Duration {
	return min(max(2*last, 5*time.Millisecond), time.Second)
}

// PeerAddr is the client address accept(2) or getpeername(2) wrote to sa,
// as the raw loops hand it to http1.Conn; none for a family other than
// IPv4 and IPv6 (a Unix socket).
func PeerAddr(sa *unix.RawSockaddrAny) netip.Addr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(sa)).Addr)
	}
	return netip.Addr{}
}

// ListenFD opens a non-blocking TCP listening socket on addr and returns its
// file descriptor. The raw servers use it directly; ListenNet wraps it for
// the servers built on the net package, so the backlog and SO_REUSEPORT
// knobs mean the same for every model.
func ListenFD(addr string, backlog int, reusePort bool) (int, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, fmt.Errorf("resolve %q: %w", addr, err)
	}
	var sa unix.Sockaddr
	domain := unix.AF_INET
	if ip4 := ta.IP.To4(); ip4 != nil || ta.IP == nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		if ip4 != nil {
			copy(s.Addr[:], ip4)
		}
		sa = s
	} else {
		domain = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		sa = s
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind "+addr, err)
	}
	if err := unix.Listen(fd, EffectiveBacklog(backlog)); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// FileListener wraps a listening descriptor from ListenFD as a
// net.Listener for the Go-runtime servers, so the backlog and SO_REUSEPORT
// knobs mean the same for every model. It takes ownership of fd.
func FileListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close() // FileListener dups the descriptor
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listener from descriptor: %w", err)
	}
	return ln, nil
}

// CloseFDs closes descriptors on an error path.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// OpenListeners opens the listeners opts asks for: one, or Listeners sockets
// sharing the address with SO_REUSEPORT. With port 0 the first socket picks
// the port and the others join it.
func OpenListeners(opts Options) ([]int, error) {
	n := 1
	if opts.ReusePort && opts.Listeners > 1 {
		n = opts.Listeners
	}
	fds := make([]int, 0, n)
	addr := opts.Addr
	for i := 0; i < n; i++ {
		fd, err := ListenFD(addr, opts.Backlog, opts.ReusePort)
		if err != nil {
			CloseFDs(fds)
			return nil, err
		}
		fds = append(fds, fd)
		if i == 0 {
			bound, err := SockAddr(fd)
			if err != nil {
				unix.Close(fd)
				return nil, err
			}
			addr = bound.String()
		}
	}
	return fds, nil
}

// SockAddr is the local address of a socket.
func SockAddr(fd int) (*net.TCPAddr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	return TCPAddr(sa), nil
}

// TCPAddr converts a unix socket address to a net.TCPAddr.
func TCPAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// FreeLoopbackAddr asks the kernel for a free port on 127.0.0.1, for a
// server that cannot be started on port 0 and say which port it got.
// Another process could take the port before the server binds it, so a
// caller must check that what answers there is its server.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
