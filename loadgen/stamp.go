package loadgen

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stampReader reads a socket with recvmsg(2) and the kernel's receive
// timestamp (SO_TIMESTAMPNS): when the last segment read arrived, taken as
// the packet came in, before any process ran. A paced loop times answers by
// it, so it need not wake the moment they come (pace.go), and its latencies
// leave out its own scheduling. It reads into one buffer, the loop's, and
// allocates nothing per read.
//
// Enabling the option on any socket makes the kernel stamp every packet it
// receives, for every socket on the host: a clock read per packet. The
// first socket to ask switches that on from a work queue, a moment later;
// an answer that arrives before then has no stamp and is timed when read.
type stampReader struct {
	msg unix.Msghdr
	iov unix.Iovec
	// oob holds the control message: one cmsghdr and one timespec.
	oob [64]byte
}

func newStampReader(buf []byte) *stampReader {
	s := &stampReader{}
	s.iov.Base = &buf[0]
	s.iov.SetLen(len(buf))
	s.msg.Iov = &s.iov
	s.msg.Iovlen = 1
	s.msg.Control = &s.oob[0]
	return s
}

// enable asks the kernel to stamp what fd receives; false if it will not.
func (s *stampReader) enable(fd int) bool {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
}

// read reads fd into the buffer and returns how much, and when it arrived:
// the stamp, moved onto now's monotonic clock, or now when there is none.
// Like netpoll.Read it is a raw system call for non-blocking sockets.
func (s *stampReader) read(fd int, now time.Time) (int, time.Time, error) {
	s.msg.SetControllen(len(s.oob))
	s.msg.Flags = 0
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&s.msg)), 0)
	if e != 0 {
		return 0, now, e
	}
	return int(n), s.arrival(now), nil
}

// arrival is the time in the control message read last, or now.
func (s *stampReader) arrival(now time.Time) time.Time {
	const hdr = unix.SizeofCmsghdr
	if int(s.msg.Controllen) < hdr+int(unsafe.Sizeof(unix.Timespec{})) {
		return now
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return now
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&s.oob[hdr]))
	// The stamp is on the wall clock; how long ago it was carries over
	// to the monotonic one. A stamp "after" now is a clock adjustment.
	ago := time.Duration(now.UnixNano() - ts.Nano())
	return now.Add(-max(ago, 0))
}
