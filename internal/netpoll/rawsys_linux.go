package netpoll

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read and Write are read(2) and write(2) for NON-BLOCKING descriptors,
// made without the runtime's syscall bookkeeping. unix.Read tells the
// scheduler a goroutine may block; when a loop's syscalls run back to back,
// that bookkeeping lets sysmon hand the P to another thread mid-burst and
// costs futex wake-ups and context switches on every few requests. A
// non-blocking call returns in microseconds, so the bookkeeping buys
// nothing. Never use these on a blocking descriptor.
func Read(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Write is Read's counterpart; see Read.
func Write(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Accept is accept4(2) on a NON-BLOCKING listener, made the same way:
// the new socket is non-blocking and close-on-exec, and the peer's
// address goes to sa, n bytes of it, without the allocation of
// unix.Accept4's parsed address.
func Accept(listener int, sa *unix.RawSockaddrAny, n *uint32) (int, error) {
	*n = unix.SizeofSockaddrAny
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(listener), uintptr(unsafe.Pointer(sa)), uintptr(unsafe.Pointer(n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// epollWaitNow is epoll_wait with a zero timeout, which cannot block.
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// epollPwait2Raw is epoll_pwait2 made without the runtime's bookkeeping,
// blocking or not (see Epoll.WaitHeld); a nil ts waits forever.
func epollPwait2Raw(epfd int, events []unix.EpollEvent, ts *unix.Timespec) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(unsafe.Pointer(ts)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// epollWaitRaw is epoll_wait made the same way, for kernels before 5.11.
func epollWaitRaw(epfd int, events []unix.EpollEvent, timeoutMs int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(timeoutMs), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
