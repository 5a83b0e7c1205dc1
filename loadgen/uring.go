package loadgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/internal/uring"
)

// uringIO is a closed loop's I/O on io_uring (--io uring): the loop's
// connection state machine (closed.go) is the epoll loop's, and only the
// system calls differ. A connect, a send and the closing of a socket are
// operations prepared on the ring, every connection's of a loop iteration
// handed to the kernel in the one io_uring_enter that also waits for
// their completions; answers come from one multishot receive per
// connection into a provided buffer ring, armed once per socket. A
// keep-alive request then costs one submission entry and a share of one
// enter, where epoll costs a write and a read (issue #14).
type uringIO struct {
	ring *uring.Ring
	bufs *uring.BufferRing
	// wake's read, kept in the ring, completes when the attack is
	// cancelled.
	wake    *netpoll.Wakeup
	wakeBuf [8]byte
	cqes    []uring.CQE
	family  int
	sa      unix.RawSockaddrAny
	saLen   uint32
	// err is the first failure of the ring itself: the attack cannot
	// go on, and runClosed returns it.
	err error
}

// probe reports what the running kernel's io_uring offers; a test fakes
// an older kernel here.
var probe = uring.Probe

// uringNeeds is what the engine asks of the kernel: multishot receives
// into a buffer ring for the answers, cancelling by descriptor so that a
// socket closed with its receive armed really closes.
var uringNeeds = []uring.Feature{
	uring.Ops(uring.OpConnect, uring.OpSend, uring.OpRecv, uring.OpRead, uring.OpClose, uring.OpAsyncCancel),
	uring.MultishotRecv, uring.BufferRings, uring.CancelByFD,
}

// The size of a receive buffer, wrk's read size, and the bounds of a
// loop's ring and buffer count: two per connection, so that a buffer is
// free whenever an answer comes.
const (
	uringBufferSize = 8 << 10
	uringMinEntries = 64
	uringMaxEntries = 4096
)

// The kinds of operation a completion's user data names, with the
// connection's slot and the generation (gen, or sends) it was made in.
const (
	opIgnore uint64 = iota
	opWake
	opConnect
	opSend
	opRecv
)

// connData is the user data naming c and seq; sqe adds the kind.
func connData(c *httpConn, seq uint32) uint64 {
	return uint64(c.slot)<<32 | uint64(seq)
}

// newUringIO sets up the ring of a loop of conns connections to addr, or
// says what this kernel lacks for it.
func newUringIO(addr *net.TCPAddr, conns int) (*uringIO, error) {
	entries := uint32(uringMinEntries)
	for entries < uringMaxEntries && entries < uint32(2*conns) {
		entries *= 2
	}
	refuse := func(err error) error {
		return fmt.Errorf("%s %s: %w; the default, %s %s, needs none of it", FlagName("io"), IOUring, err, FlagName("io"), IOEpoll)
	}
	r, err := uring.New(uring.Config{Entries: entries})
	if err != nil {
		return nil, refuse(err)
	}
	u := &uringIO{ring: r, cqes: make([]uring.CQE, 0, 256)}
	k, err := probe(r)
	for _, f := range uringNeeds {
		if err == nil {
			err = k.Check(f)
		}
	}
	if err != nil {
		u.release()
		return nil, refuse(err)
	}
	if u.wake, err = netpoll.NewWakeup(); err != nil {
		u.release()
		return nil, err
	}
	if u.bufs, err = uring.NewBufferRing(r, 0, int(entries), uringBufferSize); err != nil {
		u.release()
		return nil, refuse(err)
	}
	sa, family := sockaddr(addr)
	u.family = family
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		*(*unix.RawSockaddrInet4)(unsafe.Pointer(&u.sa)) = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: netPort(sa.Port), Addr: sa.Addr}
		u.saLen = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		*(*unix.RawSockaddrInet6)(unsafe.Pointer(&u.sa)) = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(sa.Port), Addr: sa.Addr}
		u.saLen = unix.SizeofSockaddrInet6
	}
	return u, nil
}

// netPort is port as a socket address holds it, in network byte order.
func netPort(port int) (p uint16) {
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p))[:], uint16(port))
	return p
}

// start makes the calling thread, the loop's locked one, the ring's only
// submitter, and keeps the wake-up's read in the ring.
func (u *uringIO) start() {
	if err := u.ring.Enable(); err != nil {
		u.err = err
		return
	}
	if s := u.sqe(opWake, 0); s != nil {
		s.PrepRead(u.wake.FD(), u.wakeBuf[:])
	}
}

// sqe is the next submission entry, its user data set; nil once the ring
// has failed.
func (u *uringIO) sqe(kind uint64, data uint64) *uring.SQE {
	if u.err != nil {
		return nil
	}
	s, err := u.ring.SQE()
	if err != nil {
		u.err = err
		return nil
	}
	s.UserData = kind<<56 | data
	return s
}

// dial opens c's next socket and prepares its connect.
func (u *uringIO) dial(c *httpConn) (int, error) {
	fd, err := newSocket(u.family)
	if err != nil {
		return -1, err
	}
	s := u.sqe(opConnect, connData(c, c.gen))
	if s == nil {
		unix.Close(fd)
		return -1, u.err
	}
	s.PrepConnect(uring.Target{FD: int32(fd)}, unsafe.Pointer(&u.sa), u.saLen)
	return fd, nil
}

// send prepares the send of p, c's request batch, all of it: with
// MSG_WAITALL the kernel sends again what a short send left, so the
// batch is as good as written, and the send's completion, skipped when
// it succeeds, wakes the loop only to report a failure. The loop's one
// enter then waits for answers, not for its own sends.
func (u *uringIO) send(c *httpConn, p []byte) {
	c.sends++
	if s := u.sqe(opSend, connData(c, c.sends)); s != nil {
		s.PrepSend(uring.Target{FD: int32(c.fd)}, p)
		s.OpFlags |= unix.MSG_WAITALL
		s.Flags |= uring.FlagCQESkipSuccess
	}
}

// receive arms c's multishot receive.
func (u *uringIO) receive(c *httpConn) {
	if s := u.sqe(opRecv, connData(c, c.gen)); s != nil {
		s.PrepMultishotRecv(uring.Target{FD: int32(c.fd)}, u.bufs)
		c.receiving = true
	}
}

// drop closes c's socket through the ring, after cancelling what is in
// flight on it: an armed receive holds the socket open, and so would a
// plain close(2), the server never seeing the end. Both are issued in
// order in the next enter, before any later socket can take the
// descriptor's number. The operations' completions, and those of the
// socket's cancelled ones and of a send prepared before it, belong to a
// past generation and are ignored.
func (u *uringIO) drop(c *httpConn) {
	t := uring.Target{FD: int32(c.fd)}
	c.gen++
	c.sends++
	c.receiving = false
	cancel, closing := u.sqe(opIgnore, 0), u.sqe(opIgnore, 0)
	if cancel == nil || closing == nil {
		// The ring has failed; the loop ends with this iteration.
		unix.Close(c.fd)
		return
	}
	cancel.PrepCancelFD(t)
	closing.PrepClose(t)
	cancel.Flags |= uring.FlagCQESkipSuccess
	closing.Flags |= uring.FlagCQESkipSuccess
}

// poll hands the kernel what the loop prepared and waits at most d for
// completions, in one io_uring_enter, then handles every completion
// there is. Once the window has closed (closing), only answers that
// arrived before it still count, as with epoll.
func (u *uringIO) poll(l *closedLoop, d time.Duration, end time.Time) (closing bool, err error) {
	if u.err != nil {
		return false, u.err
	}
	if err := u.ring.SubmitAndWait(1, 0, d); err != nil {
		u.err = err
		return false, err
	}
	now := time.Now()
	closing = !now.Before(end)
	for {
		cqes := u.ring.Reap(u.cqes)
		for i := range cqes {
			u.complete(l, &cqes[i], now, closing)
		}
		if len(cqes) < cap(u.cqes) {
			break
		}
	}
	return closing, u.err
}

func (u *uringIO) complete(l *closedLoop, cqe *uring.CQE, now time.Time, closing bool) {
	kind, slot, seq := cqe.UserData>>56, int(cqe.UserData>>32&0xffffff), uint32(cqe.UserData)
	switch kind {
	case opIgnore:
		return
	case opWake:
		l.stopping = true
		return
	}
	c := l.conns[slot]
	var err error
	if cqe.Res < 0 {
		err = unix.Errno(-cqe.Res)
	}
	switch kind {
	case opConnect:
		if closing || seq != c.gen || c.state != connConnecting {
			return
		}
		// A reset before the connect was seen fails the first send
		// instead, as connectError has it.
		if err != nil && !peerClosed(err) {
			l.dropConn(c)
			l.connectFailed(c, now, err)
			return
		}
		u.receive(c)
		l.connected(c, now)
	case opSend:
		// Only a failure is reported, of the connection's latest send
		// (a later one, or a new socket, has the failure's requests
		// accounted for already).
		if !closing && seq == c.sends && c.fd >= 0 && err != nil {
			l.writeFailed(c, err, now)
		}
	case opRecv:
		u.received(l, c, cqe, seq, err, now, closing)
	}
}

// received hands what a receive brought to the state machine, gives its
// buffer back, and arms the receive again if it ended on a socket that
// stays: the kernel ends a multishot receive when the buffer ring runs
// dry (ENOBUFS), which is no error. Armed again at once, that receive
// does not spin as the server's would (servers/uring, starve): no buffer
// is kept past the completion that brought it, so every buffer the
// kernel filled before it found the ring empty is back in the ring when
// the receive is next submitted.
func (u *uringIO) received(l *closedLoop, c *httpConn, cqe *uring.CQE, seq uint32, err error, now time.Time, closing bool) {
	id, buffered := cqe.BufferID()
	if seq == c.gen && c.fd >= 0 {
		if !cqe.More() {
			c.receiving = false
		}
		if !closing || c.state == connReading {
			switch {
			case buffered && err == nil:
				l.received(c, u.bufs.Buffer(id)[:cqe.Res], now, nil, now)
			case err == unix.ENOBUFS:
			default:
				l.received(c, nil, now, err, now)
			}
		}
	}
	if buffered {
		u.bufs.Recycle(id)
	}
	// A socket dropped meanwhile (an end of file, an error) has a new
	// generation; its successor receives once connected.
	if !closing && seq == c.gen && c.fd >= 0 && !c.receiving {
		u.receive(c)
	}
}

// flush hands the kernel what is prepared without waiting: the closes of
// a loop's last connections, from the ring's own thread.
func (u *uringIO) flush() {
	if u.err == nil {
		u.ring.Submit()
	}
}

// release closes the ring, which cancels what is still in flight, then
// frees the buffers it may have written into.
func (u *uringIO) release() {
	u.ring.Close()
	if u.bufs != nil {
		u.bufs.Free()
	}
	if u.wake != nil {
		u.wake.Close()
	}
}
