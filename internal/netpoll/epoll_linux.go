package netpoll

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Epoll is a level-triggered epoll(7) instance. Level-triggered keeps the
// loop simple and matches the thread's raw epoll servers: a listener left
// with pending connections after a bounded accept batch reports ready again.
type Epoll struct {
	wakeup
	fd  int
	sc  *Syscalls
	buf []unix.EpollEvent
}

// NewEpoll creates an epoll instance watching its own wake-up.
func NewEpoll(sc *Syscalls) (*Epoll, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	p := &Epoll{fd: fd, sc: sc, buf: make([]unix.EpollEvent, 512)}
	if err := p.open(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := p.ctl(unix.EPOLL_CTL_ADD, p.wakeup.fd, Readable); err != nil {
		p.Close()
		return nil, fmt.Errorf("watch wake-up eventfd: %w", err)
	}
	return p, nil
}

func epollMask(ev Events) uint32 {
	var m uint32
	if ev&Readable != 0 {
		m |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if ev&Writable != 0 {
		m |= unix.EPOLLOUT
	}
	return m
}

func (p *Epoll) ctl(op, fd int, ev Events) error {
	p.sc[SysEpollCtl]++
	e := unix.EpollEvent{Events: epollMask(ev), Fd: int32(fd)}
	return unix.EpollCtl(p.fd, op, fd, &e)
}

// Add implements Poller.
func (p *Epoll) Add(fd int, ev Events) error { return p.ctl(unix.EPOLL_CTL_ADD, fd, ev) }

// Modify implements Poller.
func (p *Epoll) Modify(fd int, ev Events) error { return p.ctl(unix.EPOLL_CTL_MOD, fd, ev) }

// Remove implements Poller.
func (p *Epoll) Remove(fd int) error { return p.ctl(unix.EPOLL_CTL_DEL, fd, 0) }

// Wait implements Poller.
func (p *Epoll) Wait(dst []Event, timeoutMs int) ([]Event, error) {
	return p.wait(dst, timeoutMs)
}

// WaitHeld is Wait with a nanosecond timeout (epoll_pwait2, Linux 5.11)
// made as one raw system call, for a loop on a locked OS thread that must
// wake on time to the microsecond and wakes thousands of times a second,
// like a paced load generator; a negative d waits forever. The call does
// not tell the Go scheduler it may block, so the thread keeps its P while
// it sleeps. Wait's blocking call goes through the runtime's syscall
// entry, and sysmon takes the P of a thread 20 µs into a system call and
// wakes a spinning thread to hold it, which the waiting thread must then
// take back: on a paced generator that hand-off (futex and nanosleep
// calls, sysmon kept awake) cost a quarter of the generator's CPU, more
// than the waits themselves (issue #11). There is no try without blocking
// first either: a raw call that finds something ready costs what the try
// would.
//
// The price: no other goroutine runs on the held P while the loop sleeps,
// so the program needs another P for its other work, or must accept that
// it runs only when the runtime preempts the loop (every 10 ms; the
// preemption signal, like a stop-the-world's, ends the wait early with no
// events). Keep d short when other goroutines must not wait.
func (p *Epoll) WaitHeld(dst []Event, d time.Duration) ([]Event, error) {
	buf := p.room(dst)
	p.sc[SysEpollWait]++
	var n int
	var err error
	if noPwait2.Load() {
		ms := -1
		if d >= 0 {
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		n, err = epollWaitRaw(p.fd, buf, ms)
	} else {
		var ts *unix.Timespec
		if d >= 0 {
			t := unix.NsecToTimespec(int64(d))
			ts = &t
		}
		n, err = epollPwait2Raw(p.fd, buf, ts)
		if err == unix.ENOSYS {
			noPwait2.Store(true)
			return p.WaitHeld(dst, d)
		}
	}
	return p.waited(dst, buf, n, err, "epoll_pwait2")
}

// noPwait2 is set once the kernel says it lacks epoll_pwait2.
var noPwait2 atomic.Bool

func (p *Epoll) wait(dst []Event, timeoutMs int) ([]Event, error) {
	buf := p.room(dst)
	// Under load something is nearly always ready: ask without blocking
	// first, and only block (through the runtime, which may then lend the
	// thread's P to other goroutines) when nothing is.
	p.sc[SysEpollWait]++
	n, err := epollWaitNow(p.fd, buf)
	if n == 0 && err == nil && timeoutMs != 0 {
		p.sc[SysEpollWait]++
		n, err = unix.EpollWait(p.fd, buf, timeoutMs)
	}
	return p.waited(dst, buf, n, err, "epoll_wait")
}

// room is the part of the event buffer a wait may fill: no more events
// than dst has room for.
func (p *Epoll) room(dst []Event) []unix.EpollEvent {
	return p.buf[:min(cap(dst), len(p.buf))]
}

// waited ends a wait that filled n events of buf, or failed in call:
// dst[:0] with what they report, none when the wait was interrupted.
func (p *Epoll) waited(dst []Event, buf []unix.EpollEvent, n int, err error, call string) ([]Event, error) {
	dst = dst[:0]
	if err != nil {
		if retryEINTR(err) {
			return dst, nil
		}
		return dst, fmt.Errorf("%s: %w", call, err)
	}
	return p.events(dst, buf[:n]), nil
}

// events appends what buf reports to dst, consuming a wake-up.
func (p *Epoll) events(dst []Event, buf []unix.EpollEvent) []Event {
	for i := range buf {
		e := &buf[i]
		if int(e.Fd) == p.wakeup.fd {
			p.consume(p.sc)
			dst = append(dst, Event{FD: e.Fd, Events: Woken})
			continue
		}
		var ev Events
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
			ev |= Readable
		}
		if e.Events&unix.EPOLLOUT != 0 {
			ev |= Writable
		}
		if e.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			ev |= Failed
		}
		dst = append(dst, Event{FD: e.Fd, Events: ev})
	}
	return dst
}

// Forget implements Poller: closing the descriptor removes it from the
// interest list, as long as no duplicate of it stays open (the loops never
// duplicate sockets).
func (p *Epoll) Forget(fd int) error { return nil }

// Close implements Poller.
func (p *Epoll) Close() error {
	return errors.Join(p.wakeup.close(), unix.Close(p.fd))
}
