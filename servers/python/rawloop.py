"""The raw event loop of the epoll, poll and selectors servers (thread posts
#1, #5, #11): one non-blocking listener, one loop, and the HTTP/1.1 side in
an exchange. The three differ only in their poller, so a difference in
their results is the poller's (post #11: the selectors module against raw
epoll).

The loop is one function whose hot path uses local variables only (post
#20: in CPython, attribute lookups and classes on the hot path cost up to
30%). Only the rare paths (closing, lingering, a full socket, a sweep of
the deadlines) are helper functions.
"""

import select
import selectors
import socket
from time import monotonic

from deadlines import accept_failed, next_accept_backoff
from exchange import LINGER_BYTES, LINGER_TIME, RECV_SIZE, client_ip


class EpollPoller:
    """select.epoll, called directly."""

    wait_syscall = "epoll_wait"
    ctl_syscall = "epoll_ctl"
    # An error or hang-up is reported as well, and the read that follows
    # finds it.
    READ, WRITE = select.EPOLLIN, select.EPOLLOUT
    # wait(BLOCK) waits with no timeout; a timeout is seconds * SCALE.
    BLOCK, SCALE = -1, 1

    def __init__(self):
        ep = select.epoll()
        self.register, self.modify, self.unregister = ep.register, ep.modify, ep.unregister
        self.wait = ep.poll
        # Closing a descriptor takes it out of the epoll set.
        self.forget = None
        self.close = ep.close


class PollPoller:
    """select.poll: the interest set is the poll object's own table, handed
    to the kernel whole on every wait, so registering costs no syscall."""

    wait_syscall = "poll"
    ctl_syscall = None
    READ, WRITE = select.POLLIN, select.POLLOUT
    BLOCK, SCALE = None, 1000

    def __init__(self):
        p = select.poll()
        self.register, self.modify, self.unregister = p.register, p.modify, p.unregister
        self.wait = p.poll
        self.forget = p.unregister
        self.close = lambda: None


class SelectorsPoller:
    """The selectors module's DefaultSelector (epoll on Linux), as curio
    uses it: every call goes through its key objects and map."""

    READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
    BLOCK, SCALE = None, 1

    def __init__(self):
        sel = selectors.DefaultSelector()
        if isinstance(sel, selectors.EpollSelector):
            self.wait_syscall, self.ctl_syscall = "epoll_wait", "epoll_ctl"
        else:
            self.wait_syscall, self.ctl_syscall = type(sel).__name__, None
        self.register, self.modify, self.unregister = sel.register, sel.modify, sel.unregister
        select_ = sel.select

        def wait(timeout):
            # The loop dispatches on descriptors; the selector hands out keys.
            return [(key.fd, mask) for key, mask in select_(timeout)]

        self.wait = wait
        self.forget = sel.unregister
        self.close = sel.close


POLLERS = {"epoll": EpollPoller, "poll": PollPoller, "selectors": SelectorsPoller}


class Conn:
    """One client connection of the loop."""

    __slots__ = ("sock", "fd", "ex", "out", "watching", "lingering", "due", "heading", "lingered")

    def __init__(self, sock, fd, ex):
        self.sock = sock
        self.fd = fd
        self.ex = ex
        # out is the part of the answers the kernel has not taken yet.
        self.out = None
        # What the poller watches the descriptor for (0: nothing).
        self.watching = 0
        # In a lingering close: the answer is sent, the write side shut,
        # and what the client still sends is dropped until due.
        self.lingering = False
        # When the connection is closed (0: never) and whether that is the
        # header timeout's (deadlines.Deadlines).
        self.due = 0.0
        self.heading = False
        self.lingered = 0


def serve(kind, listener, make_exchange, page, stats, opts, deadlines, stop_fd):
    """Serve listener until stop_fd becomes readable; counters go to stats.

    opts carries accept_batch (0: until accept says EAGAIN), rearm
    ("oneshot": unregister and register again around every accept and read,
    thread post #15), nodelay and stream (read and discard, post #1's
    throughput test). deadlines holds the header and idle timeouts.
    """
    poller = POLLERS[kind]()
    register, modify, unregister, wait = poller.register, poller.modify, poller.unregister, poller.wait
    forget = poller.forget
    R, W = poller.READ, poller.WRITE
    BLOCK, SCALE = poller.BLOCK, poller.SCALE
    wait_syscall, ctl = poller.wait_syscall, poller.ctl_syscall
    sc = {wait_syscall: 0, "accept4": 0, "ioctl": 0, "setsockopt": 0, "recvfrom": 0,
          "sendto": 0, "shutdown": 0, "close": 0}
    if ctl:
        sc[ctl] = 0
    batch = opts.accept_batch
    oneshot = opts.rearm == "oneshot"
    nodelay = opts.nodelay
    stream = opts.stream
    scratch = bytearray(64 << 10)
    lfd = listener.fileno()
    accept = listener.accept
    IPPROTO_TCP, TCP_NODELAY = socket.IPPROTO_TCP, socket.TCP_NODELAY
    conns = {}
    await_request, tick = deadlines.await_request, deadlines.tick
    # now is the loop's clock, read once per wakeup. The deadlines are next
    # swept at sweep_at; after a failed accept the listener is not watched
    # until resume_at.
    now = monotonic()
    schedule = {"sweep_at": now + tick, "paused": False, "resume_at": 0.0, "backoff": 0.0}

    def ctl_call():
        if ctl:
            sc[ctl] += 1

    def watch(c, ev):
        """Watch c for ev (0: nothing); False if c had to be closed."""
        if ev == c.watching:
            return True
        try:
            if ev == 0:
                unregister(c.fd)
            elif c.watching == 0:
                register(c.fd, ev)
            else:
                modify(c.fd, ev)
        except OSError:
            close(c)
            return False
        ctl_call()
        c.watching = ev
        return True

    def close(c):
        if c.fd < 0:
            return
        if c.watching and forget is not None:
            forget(c.fd)
            if kind == "selectors":
                ctl_call()
        sc["close"] += 1
        c.sock.close()
        del conns[c.fd]
        c.fd = -1

    def finish(c):
        """End a connection whose last answer is written."""
        if not c.ex.linger:
            close(c)
            return
        sc["shutdown"] += 1
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            close(c)
            return
        c.lingering = True
        c.due = now + LINGER_TIME
        watch(c, R)

    def drain(c):
        sc["recvfrom"] += 1
        try:
            n = c.sock.recv_into(scratch)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = 0
        c.lingered += n
        stats.bytes_read += n
        if n == 0 or c.lingered >= LINGER_BYTES:
            close(c)

    def send(c, out):
        """Write out, which follows all of c's earlier answers; False if the
        socket is full (the rest waits in c.out) or c had to be closed."""
        sc["sendto"] += 1
        try:
            n = c.sock.send(out)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            close(c)
            return False
        stats.bytes_written += n
        if n == len(out):
            c.out = None
            return True
        wait_writable(c, memoryview(out)[n:])
        return False

    def wait_writable(c, rest):
        """Watch c for writing only: its socket is full and rest of its
        answers waits, or its exchange holds requests back (rest is None)
        for a later turn of the loop, so the others are served in between.
        It reads nothing meanwhile, so a client that does not read its
        answers cannot make the server buffer more, and it has no deadline."""
        c.out = rest
        c.due = 0.0
        watch(c, W)

    def proceed(c):
        """Go on once c's answers so far are written: answer a bound's worth
        of what its exchange held back and come back for more on a later
        turn; once all is answered, end the connection or wait for its
        next request."""
        ex = c.ex
        if ex.held:
            out = ex.feed(b"")
            if out and not send(c, out):
                return
            if ex.held:
                wait_writable(c, None)
                return
        if ex.closing:
            finish(c)
            return
        await_request(c, ex.partial, True, now)
        watch(c, R)

    def pause_accept():
        st = schedule
        st["backoff"] = next_accept_backoff(st["backoff"])
        st["resume_at"] = now + st["backoff"]
        if not st["paused"]:
            unregister(lfd)
            ctl_call()
            st["paused"] = True

    def sweep():
        """Close the connections whose deadline has passed, and watch the
        listener again once its pause is over; the wait's timeout until
        the next of those (BLOCK: none)."""
        st = schedule
        if now >= st["sweep_at"]:
            st["sweep_at"] = now + tick
            for c in [c for c in conns.values() if 0 < c.due <= now]:
                if not c.lingering:
                    stats.timed_out += 1
                close(c)
        if st["paused"] and st["resume_at"] <= now:
            register(lfd, R)
            ctl_call()
            st["paused"] = False
        if st["paused"]:
            at = min(st["resume_at"], st["sweep_at"]) if conns else st["resume_at"]
        elif conns and not stream:
            at = st["sweep_at"]
        else:
            return BLOCK
        return max(0.0, at - now) * SCALE

    register(lfd, R)
    register(stop_fd, R)
    if ctl:
        sc[ctl] += 2
    try:
        while True:
            events = wait(sweep())
            sc[wait_syscall] += 1
            now = monotonic()
            for fd, ev in events:
                c = conns.get(fd)
                if c is not None:
                    if ev & W:
                        if c.out is None or send(c, c.out):
                            proceed(c)
                        continue
                    if c.lingering:
                        drain(c)
                        continue
                    if oneshot:
                        unregister(fd)
                        ctl_call()
                        c.watching = 0
                    sc["recvfrom"] += 1
                    if stream:
                        try:
                            n = c.sock.recv_into(scratch)
                        except (BlockingIOError, InterruptedError):
                            n = -1
                        except OSError:
                            n = 0
                        if n == 0:
                            close(c)
                            continue
                        if n > 0:
                            stats.bytes_read += n
                        if oneshot:
                            watch(c, R)
                        continue
                    try:
                        data = c.sock.recv(RECV_SIZE)
                    except (BlockingIOError, InterruptedError):
                        if oneshot:
                            watch(c, R)
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        # EOF or a reset: the client is gone.
                        close(c)
                        continue
                    stats.bytes_read += len(data)
                    ex = c.ex
                    out = ex.feed(data)
                    if out:
                        sc["sendto"] += 1
                        try:
                            n = c.sock.send(out)
                        except (BlockingIOError, InterruptedError):
                            n = 0
                        except OSError:
                            close(c)
                            continue
                        stats.bytes_written += n
                        if n < len(out):
                            wait_writable(c, memoryview(out)[n:])
                            continue
                    if ex.held:
                        wait_writable(c, None)
                    elif ex.closing:
                        finish(c)
                    else:
                        await_request(c, ex.partial, out, now)
                        if oneshot:
                            watch(c, R)
                elif fd == lfd:
                    stats.listener_wakeups += 1
                    if oneshot:
                        # Thread post #15: unregister after the wakeup,
                        # register again before the next wait.
                        unregister(lfd)
                        ctl_call()
                    n = 0
                    while batch == 0 or n < batch:
                        stats.accept_calls += 1
                        sc["accept4"] += 1
                        try:
                            sock, addr = accept()
                        except BlockingIOError:
                            break
                        except (InterruptedError, ConnectionAbortedError):
                            continue
                        except OSError as e:
                            # Out of descriptors (EMFILE, ENFILE), memory,
                            # or anything else: back off, serving the
                            # connections already open meanwhile; new
                            # clients wait in the backlog.
                            accept_failed(stats, e)
                            if oneshot:
                                register(lfd, R)
                                ctl_call()
                            pause_accept()
                            break
                        n += 1
                        schedule["backoff"] = 0.0
                        stats.connections += 1
                        sc["ioctl"] += 1
                        sock.setblocking(False)
                        if nodelay:
                            sc["setsockopt"] += 1
                            sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
                        cfd = sock.fileno()
                        try:
                            register(cfd, R)
                        except OSError:
                            stats.refused += 1
                            sc["close"] += 1
                            sock.close()
                            continue
                        ctl_call()
                        c = Conn(sock, cfd, make_exchange(page, stats, client_ip(addr[0])))
                        c.watching = R
                        if not stream:
                            deadlines.accepted(c, now)
                        conns[cfd] = c
                    if oneshot and not schedule["paused"]:
                        register(lfd, R)
                        ctl_call()
                elif fd == stop_fd:
                    return
    finally:
        for c in list(conns.values()):
            close(c)
        poller.close()
        for name, n in sc.items():
            stats.syscalls[name] = stats.syscalls.get(name, 0) + n
