package netpoll

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FDSetSize is select(2)'s hard limit on descriptor numbers.
const FDSetSize = 1024

// Select is a select(2) loop's descriptor sets. Like Poll, registration is
// user-space bookkeeping; the kernel copies and scans the bitmaps up to the
// highest descriptor on every wait.
type Select struct {
	wakeup
	sc          *Syscalls
	read, write unix.FdSet
	// watched holds the caller's descriptors, and maxFD the highest of
	// them; the wake-up is in read but in neither.
	watched unix.FdSet
	maxFD   int
	// next is the descriptor the next scan starts from (scanFrom).
	next int
}

// NewSelect creates descriptor sets watching nothing but their own wake-up.
func NewSelect(sc *Syscalls) (*Select, error) {
	p := &Select{sc: sc, maxFD: -1}
	if err := p.open(); err != nil {
		return nil, err
	}
	if p.wakeup.fd >= FDSetSize {
		p.Close()
		return nil, fmt.Errorf("select: wake-up eventfd: %w", ErrTooManyFDs)
	}
	p.read.Set(p.wakeup.fd)
	return p, nil
}

// Add implements Poller. Descriptors past FD_SETSIZE are refused with
// ErrTooManyFDs rather than corrupting memory the way FD_SET would in C.
func (p *Select) Add(fd int, ev Events) error {
	if fd < 0 || fd >= FDSetSize {
		return fmt.Errorf("select: fd %d: %w", fd, ErrTooManyFDs)
	}
	if p.watched.IsSet(fd) {
		return fmt.Errorf("select: fd %d already watched: %w", fd, unix.EEXIST)
	}
	p.watched.Set(fd)
	p.set(fd, ev)
	if fd > p.maxFD {
		p.maxFD = fd
	}
	return nil
}

func (p *Select) set(fd int, ev Events) {
	if ev&Readable != 0 {
		p.read.Set(fd)
	} else {
		p.read.Clear(fd)
	}
	if ev&Writable != 0 {
		p.write.Set(fd)
	} else {
		p.write.Clear(fd)
	}
}

func (p *Select) check(fd int) error {
	if fd < 0 || fd >= FDSetSize || !p.watched.IsSet(fd) {
		return fmt.Errorf("select: fd %d not watched: %w", fd, unix.ENOENT)
	}
	return nil
}

// Modify implements Poller.
func (p *Select) Modify(fd int, ev Events) error {
	if err := p.check(fd); err != nil {
		return err
	}
	p.set(fd, ev)
	return nil
}

// Remove implements Poller.
func (p *Select) Remove(fd int) error {
	if err := p.check(fd); err != nil {
		return err
	}
	p.watched.Clear(fd)
	p.set(fd, 0)
	for p.maxFD >= 0 && !p.watched.IsSet(p.maxFD) {
		p.maxFD--
	}
	return nil
}

// Wait implements Poller.
func (p *Select) Wait(dst []Event, timeoutMs int) ([]Event, error) {
	dst = dst[:0]
	r, w := p.read, p.write
	var tv *unix.Timeval
	if timeoutMs >= 0 {
		t := unix.NsecToTimeval(int64(timeoutMs) * 1e6)
		tv = &t
	}
	top := max(p.maxFD, p.wakeup.fd)
	p.sc[SysSelect]++
	n, err := unix.Select(top+1, &r, &w, nil, tv)
	if err != nil {
		if retryEINTR(err) {
			return dst, nil
		}
		return dst, fmt.Errorf("select: %w", err)
	}
	p.next = scanFrom(p.next, top+1, func(fd int) bool {
		if n == 0 {
			return false
		}
		var ev Events
		if fd == p.wakeup.fd {
			if r.IsSet(fd) {
				n--
				p.consume(p.sc)
				dst = append(dst, Event{FD: int32(fd), Events: Woken})
			}
			return len(dst) < cap(dst)
		}
		if r.IsSet(fd) {
			ev |= Readable
			n--
		}
		if w.IsSet(fd) {
			ev |= Writable
			n--
		}
		if ev != 0 {
			dst = append(dst, Event{FD: int32(fd), Events: ev})
		}
		return len(dst) < cap(dst)
	})
	return dst, nil
}

// Forget implements Poller.
func (p *Select) Forget(fd int) error { return p.Remove(fd) }

// Close implements Poller.
func (p *Select) Close() error { return p.wakeup.close() }
