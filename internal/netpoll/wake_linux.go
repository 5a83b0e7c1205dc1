package netpoll

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// wakeup is the eventfd(2) every poller watches beside the loop's
// descriptors, as gnet's poller owns its own: Wake makes it readable, so a
// wait blocked with no timeout ends the moment another goroutine has
// something for the loop (a stop, above all), and an idle loop makes no
// syscall at all instead of waking on a timer to look at a flag.
type wakeup struct {
	// mu orders Wake, which any goroutine may call at any time, against
	// close: without it a late Wake could write into a descriptor number
	// that close has freed and the process has reused for another file.
	// Wait reads fd without it: only the owner waits, and it closes the
	// poller after its last Wait, never during one.
	mu sync.Mutex
	fd int
}

// one is the eventfd increment Wake writes, in the host's byte order as
// eventfd(2) wants it.
var one = binary.NativeEndian.AppendUint64(nil, 1)

func (w *wakeup) open() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		w.fd = -1
		return fmt.Errorf("wake-up eventfd: %w", err)
	}
	w.fd = fd
	return nil
}

// Wake ends a Wait under way, or the next one, with a Woken event. Wakes
// before that Wait collapse into one: eventfd adds them up and one read
// takes them all. The write is not counted in the poller's Syscalls,
// because the waking goroutine makes it, not the loop.
func (w *wakeup) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd >= 0 {
		// Only a counter about to overflow refuses the write, and then a
		// wake-up is pending anyway.
		Write(w.fd, one)
	}
}

// consume resets the eventfd once Wait has seen it readable and reports it.
func (w *wakeup) consume(sc *Syscalls) {
	var buf [8]byte
	sc[SysRead]++
	Read(w.fd, buf[:])
}

func (w *wakeup) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}

// Wakeup is the pollers' wake-up on its own, for a loop that waits in
// something other than a Poller: an io_uring loop keeps a read of FD in
// its ring, so Wake completes it and ends the loop's wait.
type Wakeup struct{ w wakeup }

// NewWakeup opens a wake-up's eventfd.
func NewWakeup() (*Wakeup, error) {
	w := &Wakeup{}
	if err := w.w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// FD is the eventfd a Wake makes readable; reading its 8 bytes resets it.
func (w *Wakeup) FD() int { return w.w.fd }

// Wake makes FD readable. It is safe from any goroutine, also during and
// after Close (it then does nothing).
func (w *Wakeup) Wake() { w.w.Wake() }

// Close closes the eventfd.
func (w *Wakeup) Close() error { return w.w.close() }
