// Package uring is io_uring on raw io_uring_setup(2), io_uring_enter(2)
// and io_uring_register(2) and mmap: the rings, the preparation of the
// few operations a network server or a load generator needs (accept,
// connect, recv, send, close, shutdown, cancel, read), a provided buffer
// ring, registered files and a probe of what the running kernel offers.
// It is written here, as internal/netpoll is on raw epoll, because the
// I/O layer is what sockbench compares.
//
// A Ring belongs to one loop on one locked OS thread: it is not safe for
// concurrent use. Its counters (Stats) are plain fields the owner merges
// once, as netpoll.Syscalls are.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config chooses how a ring is set up.
type Config struct {
	// Entries is the submission queue's size (rounded up to a power of
	// two by the kernel); the completion queue gets four times as many,
	// so multishot requests rarely overflow it.
	Entries uint32
	// SQPoll starts a kernel thread that polls the submission queue, so
	// submitting costs no syscall while the thread is awake; it spends a
	// core. SQPollIdle is how long the thread spins before it sleeps.
	SQPoll     bool
	SQPollIdle time.Duration
}

// Stats count a ring's kernel entries and the completions it reaped.
type Stats struct {
	// Enters counts io_uring_enter(2) calls.
	Enters uint64
	// Completions counts the CQEs reaped.
	Completions uint64
}

// Ring is one io_uring instance with its rings mapped.
type Ring struct {
	fd       int
	features uint32
	sqpoll   bool
	// The shared rings: one mapping (IORING_FEAT_SINGLE_MMAP) holds the
	// SQ and CQ heads, tails and the CQEs; sqes is its own mapping.
	ringMem []byte
	sqeMem  []byte
	sqHead  *uint32
	sqTail  *uint32
	sqFlags *uint32
	sqMask  uint32
	sqes    []SQE
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    []CQE
	// tail is the next SQE to hand out; the kernel's sqTail catches up
	// on Flush.
	tail uint32
	ts   unix.Timespec
	arg  getEventsArg

	Stats Stats
}

// ErrUnavailable wraps a setup failure that means io_uring cannot be
// used here at all: disabled by sysctl (kernel.io_uring_disabled), a
// seccomp filter, or a kernel without it.
var ErrUnavailable = errors.New("io_uring unavailable")

// New sets up a ring. The ring starts disabled (IORING_SETUP_R_DISABLED)
// with a single issuer: the thread that calls Enable becomes the only one
// that may submit, so registrations can be made here on any thread and
// the loop's thread then owns the ring. Without SQPOLL the kernel runs
// completion work only when that thread enters (DEFER_TASKRUN), in
// batches, instead of interrupting it.
func New(cfg Config) (*Ring, error) {
	if cfg.Entries == 0 {
		cfg.Entries = 256
	}
	p := params{
		flags:     setupClamp | setupCQSize | setupSubmitAll | setupSingleIssuer | setupRDisabled,
		cqEntries: 4 * cfg.Entries,
	}
	if cfg.SQPoll {
		p.flags |= setupSQPoll
		p.sqThreadIdle = uint32(max(cfg.SQPollIdle, time.Millisecond) / time.Millisecond)
	} else {
		p.flags |= setupDeferTaskrun
	}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(cfg.Entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		switch e {
		case unix.ENOSYS, unix.EPERM:
			return nil, fmt.Errorf("%w: io_uring_setup: %v (is kernel.io_uring_disabled set, or a seccomp filter in the way?)", ErrUnavailable, e)
		case unix.EINVAL:
			return nil, fmt.Errorf("io_uring_setup: %v: this kernel lacks a setup flag sockbench uses (single issuer and deferred task work need Linux 6.1)", e)
		}
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	r := &Ring{fd: int(fd), features: p.features, sqpoll: cfg.SQPoll}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

const setupRDisabled = 1 << 6

func (r *Ring) mapRings(p *params) error {
	if p.features&featSingleMmap == 0 || p.features&featExtArg == 0 || p.features&featNoDrop == 0 {
		return fmt.Errorf("io_uring: this kernel lacks %s (Linux 5.11)", missingFeatures(p.features))
	}
	sqSize := p.sqOff.array + p.sqEntries*4
	cqSize := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(CQE{}))
	size := max(sqSize, cqSize)
	var err error
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap io_uring rings: %w", err)
	}
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(SQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap io_uring submission entries: %w", err)
	}
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&r.ringMem[off]) }
	r.sqHead = (*uint32)(at(p.sqOff.head))
	r.sqTail = (*uint32)(at(p.sqOff.tail))
	r.sqFlags = (*uint32)(at(p.sqOff.flags))
	r.sqMask = *(*uint32)(at(p.sqOff.ringMask))
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	// The index array maps ring slots to SQEs; the identity map lets the
	// ring hand out SQEs in slot order, as liburing does.
	array := unsafe.Slice((*uint32)(at(p.sqOff.array)), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.cqHead = (*uint32)(at(p.cqOff.head))
	r.cqTail = (*uint32)(at(p.cqOff.tail))
	r.cqMask = *(*uint32)(at(p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*CQE)(at(p.cqOff.cqes)), p.cqEntries)
	r.tail = *r.sqTail
	return nil
}

func missingFeatures(have uint32) string {
	var miss []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{featSingleMmap, "IORING_FEAT_SINGLE_MMAP"}, {featNoDrop, "IORING_FEAT_NODROP"}, {featExtArg, "IORING_FEAT_EXT_ARG"}} {
		if have&f.bit == 0 {
			miss = append(miss, f.name)
		}
	}
	return fmt.Sprint(miss)
}

// Enable starts a ring set up disabled; the calling thread becomes its
// only submitter (call it from the loop's locked OS thread).
func (r *Ring) Enable() error {
	if err := r.register(registerEnableRings, nil, 0); err != nil {
		return fmt.Errorf("enable io_uring: %w", err)
	}
	return nil
}

const registerEnableRings = 12

func (r *Ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// SQE returns the next submission entry, zeroed, for the caller to
// prepare. When the submission queue is full it first submits what is
// queued (one enter), so preparing never fails while the ring works.
func (r *Ring) SQE() (*SQE, error) {
	if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
		if _, err := r.Submit(); err != nil {
			return nil, err
		}
		// The polling thread takes SQEs in its own time: wait for room
		// (IORING_ENTER_SQ_WAIT), which can return before the thread
		// has published its head.
		for tries := 0; r.sqpoll && tries < 1000 && r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask; tries++ {
			if err := r.enter(0, 0, enterSQWakeup|enterSQWait, true); err != nil {
				return nil, err
			}
		}
		if r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
			return nil, errors.New("io_uring submission queue stays full")
		}
	}
	sqe := &r.sqes[r.tail&r.sqMask]
	*sqe = SQE{}
	r.tail++
	return sqe, nil
}

// flush publishes the prepared SQEs and returns how many there are for
// the kernel to take.
func (r *Ring) flush() uint32 {
	atomic.StoreUint32(r.sqTail, r.tail)
	return r.tail - atomic.LoadUint32(r.sqHead)
}

// Submit hands the prepared SQEs to the kernel without waiting. With
// SQPOLL it makes no syscall unless the polling thread sleeps.
func (r *Ring) Submit() (int, error) {
	n := r.flush()
	if r.sqpoll {
		if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
			return 0, r.enter(0, 0, enterSQWakeup, false)
		}
		return int(n), nil
	}
	if n == 0 {
		return 0, nil
	}
	return int(n), r.enter(n, 0, 0, false)
}

// SubmitAndWait hands the prepared SQEs to the kernel and waits for
// completions, at most timeout (negative: no limit), in one
// io_uring_enter: the one syscall of a loop iteration. It waits for want
// completions (at least one) for up to patience, then for any one; a
// kernel without the minimum wait (IORING_FEAT_MIN_TIMEOUT, Linux 6.12)
// waits for one. It returns at once when completions are already there.
// A wait that times out or is interrupted is not an error: the caller
// reaps what there is.
func (r *Ring) SubmitAndWait(want int, patience, timeout time.Duration) error {
	n := r.flush()
	if r.sqpoll {
		n = 0
	}
	flags := uint32(enterGetEvents | enterExtArg)
	if r.sqpoll && atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
		flags |= enterSQWakeup
	}
	r.arg = getEventsArg{}
	if timeout >= 0 {
		r.ts = unix.NsecToTimespec(int64(timeout))
		r.arg.ts = uint64(uintptr(unsafe.Pointer(&r.ts)))
	}
	wait := uint32(1)
	if want > 1 && r.features&featMinTimeout != 0 && atomic.LoadUint32(r.cqTail) == atomic.LoadUint32(r.cqHead) {
		wait = uint32(want)
		r.arg.minWaitUs = uint32(max(patience/time.Microsecond, 1))
	}
	return r.enter(n, wait, flags, true)
}

// enter is io_uring_enter(2). A call that may block goes through the
// runtime's syscall entry, so the Go scheduler can run other goroutines
// on the P meanwhile; one that cannot block is made raw.
func (r *Ring) enter(submit, wait, flags uint32, mayBlock bool) error {
	var arg, argSize uintptr
	if flags&enterExtArg != 0 {
		arg, argSize = uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg)
	}
	r.Stats.Enters++
	call := unix.RawSyscall6
	if mayBlock && wait > 0 && atomic.LoadUint32(r.cqTail) == atomic.LoadUint32(r.cqHead) {
		call = unix.Syscall6
	}
	_, _, e := call(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(submit), uintptr(wait), uintptr(flags), arg, argSize)
	switch e {
	case 0, unix.ETIME, unix.EINTR:
		return nil
	case unix.EBUSY, unix.EAGAIN:
		// The completion queue is full or the kernel is short of memory
		// for now: reaping makes room.
		return nil
	}
	return fmt.Errorf("io_uring_enter: %w", e)
}

// Reap appends the completions there are to dst[:0] and frees their
// slots, so the caller can prepare new SQEs while it handles them.
func (r *Ring) Reap(dst []CQE) []CQE {
	dst = dst[:0]
	head := *r.cqHead
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail && len(dst) < cap(dst); head++ {
		dst = append(dst, r.cqes[head&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, head)
	r.Stats.Completions += uint64(len(dst))
	return dst
}

// Close unmaps the rings and closes the ring's descriptor; the kernel
// cancels what is still in flight.
func (r *Ring) Close() error {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.ringMem != nil {
		unix.Munmap(r.ringMem)
		r.ringMem = nil
	}
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// BufferID is the provided buffer a completion's data is in, and whether
// there is one.
func (c *CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEBuffer != 0
}

// More reports whether the multishot request that posted c stays armed.
func (c *CQE) More() bool { return c.Flags&CQEMore != 0 }
