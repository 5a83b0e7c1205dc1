package uring

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/netpoll"
	iouring "github.com/sockbench/sockbench/internal/uring"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/conns"
	"github.com/sockbench/sockbench/servers/deadline"
	"github.com/sockbench/sockbench/servers/http1"
)

// What a completion is the end of: the low byte of its user data; the
// rest is the connection's descriptor.
const (
	opAccept = iota + 1
	opWake
	opRecv
	opSend
	opShutdown
	opCancel
	opClose
	opInstall
)

func userData(op, fd int) uint64 { return uint64(fd)<<8 | uint64(op) }

const (
	// ringEntries is the submission queue's size; an iteration that
	// prepares more submits on the way (Ring.SQE).
	ringEntries = 1024
	// maxCompletions is how many completions one iteration handles.
	maxCompletions = 1024
	// The provided buffers' sizes: requests are small, and a buffer goes
	// back to the ring as soon as its bytes are copied out (into in, or
	// spill); stream mode reads in the large chunks of thread post #1's
	// throughput test.
	bufferSize, streamBufferSize = 4 << 10, 64 << 10
	// maxFiles caps the registered files' table; a connection whose
	// descriptor is past it goes unregistered.
	maxFiles = 1 << 16
	// quietPatience is how long a wait holds out for a completion beyond
	// those of its quiet sends before it takes what there is: a quiet
	// send not done when submitted waits for a slow client, whose turn
	// may then come this much later.
	quietPatience = 100 * time.Microsecond
	// drainTime bounds how long a stopping loop waits for the kernel to
	// end its connections' operations.
	drainTime = 2 * time.Second
)

// The provided buffers' counts (bufferSize, streamBufferSize); a test
// starves the ring with fewer.
var bufferCount, streamBufferCount = 1024, 64

// loop is one ring and its connections. Everything it touches on the hot
// path is its own, as in the readiness loops: no locks, counters in
// plain fields merged once when it ends.
type loop struct {
	server   *Server
	ring     *iouring.Ring
	bufs     *iouring.BufferRing // nil without buffer_ring
	wake     *netpoll.Wakeup
	listener int
	page     *http1.Page
	stream   bool
	cfg      config
	// files is the size of the registered files' table (0: none).
	files int

	conns   conns.Table[conn]
	cqes    []iouring.CQE
	scratch []byte // stream mode's receive buffer without a buffer ring

	timeouts deadline.Set[conn]
	// accepting: an accept is in flight. wakeArmed: the read of the
	// wake-up is. stopping: the wake-up said stop.
	accepting, wakeArmed, stopping bool
	wakeBuf                        [8]byte
	// peer is the client address a single-shot accept, or getpeername,
	// writes.
	peer    unix.RawSockaddrAny
	peerLen uint32
	// quiet counts the sends prepared since the last enter whose
	// completion will ask nothing of the loop: the whole answer of a
	// connection with nothing else to do, receiving with a multishot
	// receive that stays armed.
	quiet int
	// starved are connections whose multishot receive the kernel ended
	// because the buffer ring was empty (ENOBUFS), in the order they
	// starved: each buffer that comes back arms the first one's receive
	// again (give). A connection no longer starved (closed, or reused
	// since) is skipped when its turn comes.
	starved []*conn
	// spare counts the buffers that came back while no connection
	// starved, up to the ring's size: each lets a receive that ends on
	// ENOBUFS be armed again at once (starve).
	spare int
	// err is the first failure to queue an operation.
	err error
	// drained: no operation of the loop's can be in the kernel, as before
	// it runs or after a drain that saw them all end, so the buffers the
	// kernel could write into can be unmapped.
	drained bool

	getpeername, closes uint64
	counters            http1.Counters
	stats               servers.Stats
}

// conn is one client connection of a loop.
type conn struct {
	fd int
	// slot is the descriptor as the registered-file update reads it.
	slot   int32
	target iouring.Target
	proto  http1.Conn
	in     []byte // len is what is buffered; cap is the head limit
	out    []byte
	// written is how much of out the kernel has sent.
	written int
	// spill[spilled:] are received bytes that did not fit in in yet
	// (what the multishot receive brought before its cancel took
	// effect). They are copied out of the provided buffers, which a
	// client leaving its answers unread would keep out of the ring: a
	// crowd of such clients held them all and starved the rest (issue
	// #19). A connection reusing c starts without it, which may be large.
	spill   []byte
	spilled int
	// inflight counts the connection's operations in the kernel; a
	// closed connection's descriptor is closed once it is 0, so no
	// completion can name a descriptor reused by another connection.
	inflight int
	// recving: a receive is armed. paused: the client writes faster
	// than it reads, and its receive is cancelled until its answers are
	// sent and what it spilled is taken (take). starved: it ended on an
	// empty buffer ring and waits in the loop's starved list. sending: a
	// send is in flight (out is the kernel's).
	recving, paused, starved, sending bool
	// closing: once out is sent, the connection ends. closed: it has
	// ended and waits for its operations to.
	closing, closed bool
	// answered: a request was answered since the connection last waited.
	answered bool
	// lingering: the answer is sent and the loop drops what the client
	// still sends before closing (see http1.LingerTime); lingered counts it.
	lingering bool
	lingered  int
	timer     deadline.Timer[conn]
}

// newLoop sets up a loop's ring and registers its buffers and files;
// check: first probe the kernel for what cfg needs.
func newLoop(s *Server, listener int, page *http1.Page, opts servers.Options, cfg config, check bool) (*loop, error) {
	l := &loop{
		server:   s,
		listener: listener,
		page:     page,
		stream:   opts.Stream,
		cfg:      cfg,
		cqes:     make([]iouring.CQE, 0, maxCompletions),
		timeouts: deadline.NewSet(opts.HeaderTimeout, opts.IdleTimeout, func(c *conn) *deadline.Timer[conn] { return &c.timer }),
		drained:  true,
	}
	var err error
	if l.ring, err = iouring.New(iouring.Config{Entries: ringEntries, SQPoll: cfg.sqpoll}); err != nil {
		return nil, err
	}
	if check {
		k, err := probe(l.ring)
		if err == nil {
			err = cfg.check(k)
		}
		if err != nil {
			l.release()
			return nil, err
		}
	}
	if l.wake, err = netpoll.NewWakeup(); err != nil {
		l.release()
		return nil, err
	}
	if cfg.bufferRing {
		count, size := bufferCount, bufferSize
		if opts.Stream {
			count, size = streamBufferCount, streamBufferSize
		}
		if l.bufs, err = iouring.NewBufferRing(l.ring, 0, count, size); err != nil {
			l.release()
			return nil, fmt.Errorf("%w; run without it: --buffer-ring=false", err)
		}
	} else if opts.Stream {
		l.scratch = make([]byte, streamBufferSize)
	}
	if cfg.fixedFiles {
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			l.release()
			return nil, fmt.Errorf("descriptor limit: %w", err)
		}
		l.files = int(min(lim.Cur, maxFiles))
		if err := iouring.RegisterFiles(l.ring, l.files); err != nil {
			l.release()
			return nil, fmt.Errorf("%w; run without it: --fixed-files=false", err)
		}
	}
	return l, nil
}

// release frees the ring and what the kernel was given, whether the loop
// ran or its set-up failed half-way. The buffers are unmapped only once
// no operation can still write into them.
func (l *loop) release() {
	if l.ring != nil {
		l.ring.Close()
	}
	if l.bufs != nil && l.drained {
		l.bufs.Free()
	}
	if l.wake != nil {
		l.wake.Close()
	}
}

func (l *loop) run() error {
	// One loop, one thread: the ring's single issuer.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := l.ring.Enable(); err != nil {
		return err
	}
	l.drained = false
	defer l.closeAll()
	l.armWake()
	l.armAccept()
	l.timeouts.Tick()
	for !l.stopping {
		if err := l.iterate(); err != nil {
			return err
		}
	}
	return l.err
}

// iterate is one turn of the loop: its one io_uring_enter submits what
// the last turn prepared and waits for completions (until the next
// deadline at most), and each completion is handled.
func (l *loop) iterate() error {
	l.expire()
	if l.err != nil {
		return l.err
	}
	// The quiet sends' completions ask nothing of the loop, so the wait
	// is for one completion more, for a while (quietPatience): the
	// next request then comes back in this enter, not in one of its own.
	err := l.ring.SubmitAndWait(1+l.quiet, quietPatience, l.timeouts.Wait())
	l.quiet = 0
	if err != nil {
		return err
	}
	l.timeouts.Tick()
	for _, cqe := range l.ring.Reap(l.cqes) {
		l.complete(&cqe)
	}
	return nil
}

// sqe is the next submission entry, its user data set. When the ring
// cannot take one the failure ends the loop at the next iteration; the
// entry handed out meanwhile is never submitted.
func (l *loop) sqe(op, fd int) *iouring.SQE {
	s, err := l.ring.SQE()
	if err != nil {
		if l.err == nil {
			l.err = err
		}
		return &iouring.SQE{}
	}
	s.UserData = userData(op, fd)
	return s
}

// queued ends the preparation of an entry: without submit_batch it is
// submitted at once, one io_uring_enter each, the way a readiness loop
// makes one syscall per operation.
func (l *loop) queued() {
	if l.cfg.batch {
		return
	}
	if _, err := l.ring.Submit(); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *loop) complete(cqe *iouring.CQE) {
	c := l.conns.Get(int(cqe.UserData >> 8))
	switch cqe.UserData & 0xff {
	case opWake:
		l.wakeArmed = false
		if l.stopping || l.server.stopping.Load() {
			l.stopping = true
			return
		}
		l.armWake()
	case opAccept:
		l.accepted(cqe)
	case opRecv:
		if c != nil {
			l.received(c, cqe)
		}
	case opSend:
		if c != nil {
			l.sent(c, cqe)
		}
	case opShutdown:
		if c != nil {
			c.inflight--
			if cqe.Res < 0 {
				l.close(c)
			}
			l.settle(c)
		}
	case opInstall:
		// Only a failure is reported (CQE_SKIP_SUCCESS); the receive on
		// the empty slot fails too.
		if c != nil {
			l.close(c)
		}
	}
	// opCancel and opClose report only failures, of operations that had
	// ended anyway.
}

func (l *loop) armWake() {
	s := l.sqe(opWake, 0)
	s.PrepRead(l.wake.FD(), l.wakeBuf[:])
	l.queued()
	l.wakeArmed = true
}

func (l *loop) armAccept() {
	if l.accepting || l.stopping || l.timeouts.AcceptPaused() {
		return
	}
	s := l.sqe(opAccept, 0)
	target := iouring.Target{FD: int32(l.listener)}
	if l.cfg.multishotAccept {
		s.PrepMultishotAccept(target)
	} else {
		l.peerLen = uint32(unsafe.Sizeof(l.peer))
		s.PrepAccept(target, &l.peer, &l.peerLen)
	}
	l.queued()
	l.accepting = true
}

// accepted handles an accept's completion. A failure other than "none
// pending" or an aborted handshake — out of descriptors (EMFILE, ENFILE)
// or memory — pauses accepting for the backoff; the pending connections
// wait in the backlog and the open ones are served.
func (l *loop) accepted(cqe *iouring.CQE) {
	l.stats.AcceptCalls++
	if !cqe.More() {
		l.accepting = false
	}
	if cqe.Res < 0 {
		switch unix.Errno(-cqe.Res) {
		case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED, unix.ECANCELED:
		default:
			l.stats.AcceptErrors++
			l.timeouts.PauseAccept()
			if l.accepting {
				l.sqe(opCancel, 0).PrepCancel(userData(opAccept, 0))
				l.queued()
			}
		}
		l.armAccept()
		return
	}
	fd := int(cqe.Res)
	if l.stopping {
		l.closes++
		unix.Close(fd)
		return
	}
	l.timeouts.AcceptSucceeded()
	l.stats.Connections++
	l.addConn(fd, !l.cfg.multishotAccept)
	l.armAccept()
}

// addConn makes an accepted socket one of the loop's connections,
// reusing a closed connection's buffers when there is one. havePeer: the
// accept wrote the client's address to l.peer.
func (l *loop) addConn(fd int, havePeer bool) {
	var client netip.Addr
	if l.cfg.needPeer {
		if !havePeer {
			// A multishot accept writes no address: every one of its
			// completions would write the same place.
			l.getpeername++
			l.peerLen = uint32(unsafe.Sizeof(l.peer))
			_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&l.peer)), uintptr(unsafe.Pointer(&l.peerLen)))
			havePeer = e == 0
		}
		if havePeer {
			// A client already gone has no address; the page then shows
			// none rather than the last client's.
			client = servers.PeerAddr(&l.peer)
		}
	}
	c := l.conns.Add(fd, newConn)
	*c = conn{fd: fd, in: c.in[:0], out: c.out[:0], target: iouring.Target{FD: int32(fd)}}
	c.proto.Reset(l.page, &l.counters, client)
	if l.cfg.fixedFiles && fd < l.files {
		// The slot is the descriptor's number, free while the
		// descriptor is open. The update runs when it is submitted, in
		// order, so the receive behind it finds the slot filled; linking
		// the two would add nothing (and without submit_batch, a link left
		// open at the end of a submission made the receive fail, EBADF).
		c.slot = int32(fd)
		s := l.sqe(opInstall, fd)
		s.PrepInstallFile(&c.slot, uint32(fd))
		s.Flags |= iouring.FlagCQESkipSuccess
		l.queued()
		c.target.Fixed = true
	}
	l.armRecv(c)
	if !l.stream {
		// The first request's head is due from accept on.
		l.timeouts.Header.Move(c, l.timeouts.Now)
	}
}

func newConn() *conn {
	return &conn{in: make([]byte, 0, http1.MaxHeadBytes), out: make([]byte, 0, 4096)}
}

// armRecv arms the connection's receive: one multishot receive from the
// buffer ring, or one receive into the free end of in (all of in while
// lingering, whose bytes are dropped).
func (l *loop) armRecv(c *conn) {
	if c.recving || c.closed {
		return
	}
	s := l.sqe(opRecv, c.fd)
	switch {
	case l.bufs != nil:
		s.PrepMultishotRecv(c.target, l.bufs)
	case l.stream:
		s.PrepRecv(c.target, l.scratch)
	case c.lingering:
		s.PrepRecv(c.target, c.in[:cap(c.in)])
	default:
		s.PrepRecv(c.target, c.in[len(c.in):cap(c.in)])
	}
	l.queued()
	c.recving = true
	c.inflight++
}

func (l *loop) received(c *conn, cqe *iouring.CQE) {
	if !cqe.More() {
		c.recving = false
		c.inflight--
	}
	id, fromRing := cqe.BufferID()
	n := int(cqe.Res)
	if c.closed || n <= 0 || c.lingering || l.stream {
		if fromRing {
			l.recycle(id)
		}
	}
	switch {
	case c.closed:
	case n > 0 && (c.lingering || l.stream):
		l.stats.BytesRead += uint64(n)
		if c.lingering {
			if c.lingered += n; c.lingered >= http1.LingerBytes {
				l.close(c)
			}
		}
	case n > 0:
		l.stats.BytesRead += uint64(n)
		if fromRing {
			l.take(c, id, n)
		} else {
			c.in = c.in[:len(c.in)+n]
		}
		l.process(c)
	case n == 0:
		// EOF: the client is gone. (A receive into no room would look
		// the same, but Serve answers 431 before the buffer fills.)
		l.close(c)
	case unix.Errno(-n) == unix.ENOBUFS:
		l.starve(c)
	case unix.Errno(-n) == unix.ECANCELED:
		// Only the loop cancels a receive: to pause it (and it may have
		// been taken up again since), or to close.
	default:
		l.close(c)
	}
	l.settle(c)
}

// take copies a provided buffer's n bytes into in, or what does not fit
// into spill, and gives the buffer back at once: a connection holds none
// past its completion. Bytes that overflow in show a client writing
// faster than the loop answers it: its receive pauses until its answers
// are sent and its bytes taken, as a readiness loop stops reading while
// its output is blocked.
func (l *loop) take(c *conn, id uint16, n int) {
	b := l.bufs.Buffer(id)[:n]
	if len(c.spill) == 0 {
		k := copy(c.in[len(c.in):cap(c.in)], b)
		c.in, b = c.in[:len(c.in)+k], b[k:]
	}
	c.spill = append(c.spill, b...)
	l.recycle(id)
	if len(c.spill) > 0 {
		if c.recving && !c.paused {
			l.sqe(opCancel, c.fd).PrepCancel(userData(opRecv, c.fd))
			l.queued()
		}
		c.paused = true
	}
}

// starve deals with a multishot receive the kernel ended because the
// buffer ring was empty (ENOBUFS). Armed again at once it would end so
// again, turn after turn, for as long as the buffers are out of the ring:
// c waits for one to come back instead (give). Only a buffer that came back
// while no connection starved may have done so after the kernel found the
// ring empty and before this completion was reaped; each such spare
// buffer lets one receive be armed again at once (settle), so that none
// waits for a buffer the ring already has.
func (l *loop) starve(c *conn) {
	if c.paused {
		// Armed again once it is unpaused (settle).
		return
	}
	if l.spare > 0 {
		l.spare--
		return
	}
	c.starved = true
	l.starved = append(l.starved, c)
}

// recycle gives a provided buffer back to the ring, and the turn to
// receive with it.
func (l *loop) recycle(id uint16) {
	l.bufs.Recycle(id)
	l.give()
}

// give hands a buffer's turn to the connection that has starved longest,
// arming its receive, or keeps it spare when none starves. So every
// ENOBUFS completion is a connection's first, or follows one buffer come
// back.
func (l *loop) give() {
	for len(l.starved) > 0 {
		c := l.starved[0]
		l.starved = l.starved[:copy(l.starved, l.starved[1:])]
		if c.starved {
			c.starved = false
			l.armRecv(c)
			return
		}
	}
	if l.bufs != nil {
		l.spare = min(l.spare+1, l.bufs.Len())
	}
}

// unspill moves spilled bytes into in as far as there is room.
func (l *loop) unspill(c *conn) {
	k := copy(c.in[len(c.in):cap(c.in)], c.spill[c.spilled:])
	c.in = c.in[:len(c.in)+k]
	if c.spilled += k; c.spilled == len(c.spill) {
		c.dropSpill()
	}
}

func (c *conn) dropSpill() {
	c.spill, c.spilled = c.spill[:0], 0
}

// process answers the complete requests buffered in c and sends the
// answers; the rest of the work continues when the send completes.
func (l *loop) process(c *conn) {
	if c.sending || c.closed {
		return
	}
	for {
		if len(c.spill) > 0 {
			l.unspill(c)
		}
		consumed, out, closeAfter := c.proto.Serve(c.in, c.out)
		c.out = out
		if consumed > 0 {
			c.in = c.in[:copy(c.in, c.in[consumed:])]
		}
		c.closing = c.closing || closeAfter
		if len(c.out) > 0 {
			c.answered = true
			l.send(c)
			return
		}
		if c.closing {
			l.finish(c)
			return
		}
		if consumed == 0 || len(c.in) == 0 && len(c.spill) == 0 {
			break
		}
	}
	if !l.stream {
		l.timeouts.AwaitRequest(c, &c.proto, len(c.in), c.answered)
	}
	c.answered = false
}

// send sends what of out is not sent yet. While an answer waits for the
// client to take it the connection has no deadline, as in the readiness
// loops.
func (l *loop) send(c *conn) {
	c.timer.Leave()
	if l.bufs != nil && c.written == 0 && !c.closing && len(c.in) == 0 && len(c.spill) == 0 {
		l.quiet++
	}
	l.sqe(opSend, c.fd).PrepSend(c.target, c.out[c.written:])
	l.queued()
	c.sending = true
	c.inflight++
}

func (l *loop) sent(c *conn, cqe *iouring.CQE) {
	c.sending = false
	c.inflight--
	switch {
	case c.closed:
	case cqe.Res < 0:
		l.close(c)
	default:
		l.stats.BytesWritten += uint64(cqe.Res)
		if c.written += int(cqe.Res); c.written < len(c.out) {
			l.send(c)
			return
		}
		c.out, c.written = c.out[:0], 0
		if c.closing {
			l.finish(c)
		} else {
			l.process(c)
		}
	}
	l.settle(c)
}

// finish ends a connection whose last answer is sent: at once, or after
// a lingering close when the client may still be sending.
func (l *loop) finish(c *conn) {
	if !c.proto.MustLinger(len(c.in)) {
		l.close(c)
		return
	}
	l.sqe(opShutdown, c.fd).PrepShutdown(c.target, unix.SHUT_WR)
	l.queued()
	c.inflight++
	c.lingering, c.lingered = true, 0
	c.in = c.in[:0]
	// What was spilled is dropped like the rest, and receiving goes on.
	c.dropSpill()
	c.paused = false
	l.timeouts.Linger.Move(c, l.timeouts.Now)
}

// settle arms the connection's receive when it should read and none is
// armed, and releases a closed connection whose operations have ended.
// A single-shot receive waits for the answer to be sent, and a paused
// multishot one for that and for its spill to be taken, so a client that
// does not read its answers cannot make the server buffer more.
func (l *loop) settle(c *conn) {
	switch {
	case c.closed:
		if c.inflight == 0 {
			l.dispose(c)
		}
	case c.recving || c.starved:
	case c.paused && (c.sending || len(c.spill) > 0):
	case l.bufs != nil || l.stream || c.lingering:
		c.paused = false
		l.armRecv(c)
	case !c.sending && len(c.in) < cap(c.in):
		l.armRecv(c)
	}
}

// close ends a connection: its operations in flight are cancelled, and
// its descriptor is closed once they have ended (settle).
func (l *loop) close(c *conn) {
	if c.closed {
		return
	}
	c.closed, c.starved = true, false
	c.timer.Leave()
	c.dropSpill()
	// It may be the connection a buffer's turn went to, ending before it
	// took the buffer: the turn passes on, lest the buffer sit in the
	// ring while others starve.
	l.give()
	if c.inflight > 0 {
		s := l.sqe(opCancel, c.fd)
		s.PrepCancelFD(c.target)
		s.Flags |= iouring.FlagCQESkipSuccess
		l.queued()
	}
}

// dispose closes a closed connection's descriptor, through the ring,
// and frees the connection for reuse.
func (l *loop) dispose(c *conn) {
	if c.target.Fixed {
		s := l.sqe(opClose, c.fd)
		s.PrepClose(c.target)
		s.Flags |= iouring.FlagCQESkipSuccess
	}
	s := l.sqe(opClose, c.fd)
	s.PrepClose(iouring.Target{FD: int32(c.fd)})
	s.Flags |= iouring.FlagCQESkipSuccess
	l.queued()
	l.conns.Remove(c.fd)
	c.fd = -1
}

// expire closes the connections whose deadline has passed and accepts
// again once a pause is over.
func (l *loop) expire() {
	for c, timedOut := l.timeouts.Expired(); c != nil; c, timedOut = l.timeouts.Expired() {
		if timedOut {
			l.stats.TimedOut++
		}
		l.close(c)
		l.settle(c)
	}
	if l.timeouts.ResumeAccept() {
		l.armAccept()
	}
}

// closeAll ends every connection and the loop's own operations, and
// waits, at most drainTime, for the kernel to finish them.
func (l *loop) closeAll() {
	// However the loop ended (its wake-up, or an error before it), the
	// cancelled wake-up must not be armed again: the drain would wait
	// its whole drainTime for it and leave the buffer ring mapped.
	l.stopping = true
	for c := range l.conns.All() {
		l.close(c)
		l.settle(c)
	}
	if l.accepting {
		l.sqe(opCancel, 0).PrepCancel(userData(opAccept, 0))
	}
	if l.wakeArmed {
		l.sqe(opCancel, 0).PrepCancel(userData(opWake, 0))
	}
	deadline := time.Now().Add(drainTime)
	for l.busy() && time.Now().Before(deadline) {
		if err := l.ring.SubmitAndWait(1, 0, 100*time.Millisecond); err != nil {
			return
		}
		for _, cqe := range l.ring.Reap(l.cqes) {
			l.complete(&cqe)
		}
	}
	// The closes queued by the last completions.
	l.ring.Submit()
	l.drained = !l.busy()
}

// busy reports whether the kernel still has an operation of the loop's.
func (l *loop) busy() bool {
	return l.accepting || l.wakeArmed || l.conns.Len() > 0
}
