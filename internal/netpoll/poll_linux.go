package netpoll

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Poll is a poll(2) loop's descriptor set. Registration is bookkeeping in
// user space, kept in step with the open connections: the array handed to
// the kernel on every wait holds exactly the watched descriptors, after the
// wake-up's eventfd in its first entry.
type Poll struct {
	wakeup
	sc   *Syscalls
	fds  []unix.PollFd
	slot []int32 // fd -> index in fds, plus one; 0 means not watched
	// next is the index the next scan starts from (scanFrom).
	next int
}

// wakeSlot is the wake-up's index in Poll.fds: first, where Remove, which
// fills holes with the last entry, never moves it.
const wakeSlot = 0

// NewPoll creates a poll set watching nothing but its own wake-up.
func NewPoll(sc *Syscalls) (*Poll, error) {
	p := &Poll{sc: sc}
	if err := p.open(); err != nil {
		return nil, err
	}
	p.fds = append(p.fds, unix.PollFd{Fd: int32(p.wakeup.fd), Events: unix.POLLIN})
	return p, nil
}

func pollMask(ev Events) int16 {
	var m int16
	if ev&Readable != 0 {
		m |= unix.POLLIN | unix.POLLRDHUP
	}
	if ev&Writable != 0 {
		m |= unix.POLLOUT
	}
	return m
}

// Add implements Poller.
func (p *Poll) Add(fd int, ev Events) error {
	if fd < 0 {
		return fmt.Errorf("poll: add fd %d", fd)
	}
	for fd >= len(p.slot) {
		p.slot = append(p.slot, make([]int32, len(p.slot)+64)...)
	}
	if p.slot[fd] != 0 {
		return fmt.Errorf("poll: fd %d already watched: %w", fd, unix.EEXIST)
	}
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollMask(ev)})
	p.slot[fd] = int32(len(p.fds))
	return nil
}

func (p *Poll) index(fd int) (int, error) {
	if fd < 0 || fd >= len(p.slot) || p.slot[fd] == 0 {
		return 0, fmt.Errorf("poll: fd %d not watched: %w", fd, unix.ENOENT)
	}
	return int(p.slot[fd] - 1), nil
}

// Modify implements Poller.
func (p *Poll) Modify(fd int, ev Events) error {
	i, err := p.index(fd)
	if err != nil {
		return err
	}
	p.fds[i].Events = pollMask(ev)
	return nil
}

// Remove implements Poller. The last entry moves into the hole, so the set
// stays dense.
func (p *Poll) Remove(fd int) error {
	i, err := p.index(fd)
	if err != nil {
		return err
	}
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.slot[p.fds[i].Fd] = int32(i + 1)
	}
	p.fds = p.fds[:last]
	p.slot[fd] = 0
	return nil
}

// Wait implements Poller. poll(2) reports readiness in place, so every
// watched descriptor is scanned after each wakeup: the O(n) cost that makes
// poll lose to epoll as connections grow (thread post #1).
func (p *Poll) Wait(dst []Event, timeoutMs int) ([]Event, error) {
	dst = dst[:0]
	p.sc[SysPoll]++
	n, err := unix.Poll(p.fds, timeoutMs)
	if err != nil {
		if retryEINTR(err) {
			return dst, nil
		}
		return dst, fmt.Errorf("poll: %w", err)
	}
	p.next = scanFrom(p.next, len(p.fds), func(i int) bool {
		if n == 0 {
			return false
		}
		re := p.fds[i].Revents
		if re == 0 {
			return true
		}
		n--
		if i == wakeSlot {
			p.consume(p.sc)
			dst = append(dst, Event{FD: p.fds[i].Fd, Events: Woken})
			return len(dst) < cap(dst)
		}
		var ev Events
		if re&(unix.POLLIN|unix.POLLRDHUP) != 0 {
			ev |= Readable
		}
		if re&unix.POLLOUT != 0 {
			ev |= Writable
		}
		if re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			ev |= Failed
		}
		dst = append(dst, Event{FD: p.fds[i].Fd, Events: ev})
		return len(dst) < cap(dst)
	})
	return dst, nil
}

// Forget implements Poller.
func (p *Poll) Forget(fd int) error { return p.Remove(fd) }

// Close implements Poller.
func (p *Poll) Close() error { return p.wakeup.close() }
