"""The raw event loop of the epoll, poll and selectors servers (thread posts
#1, #5, #11): one non-blocking listener, one loop, and the HTTP/1.1 side in
an exchange. The three differ only in their poller, so a difference in
their results is the poller's (post #11: the selectors module against raw
epoll).

The loop is one function whose hot path uses local variables only (post
#20: in CPython, attribute lookups and classes on the hot path cost up to
30%). Only the rare paths (closing, lingering, a full socket) are helper
functions.
"""

import select
import selectors
import socket
import time

from exchange import LINGER_BYTES, LINGER_TIME, RECV_SIZE, client_ip

# A failed accept (out of descriptors, say) pauses accepting for this long,
# doubled by each failure in a row up to the most; the connections already
# open are served meanwhile and new clients wait in the backlog.
ACCEPT_BACKOFF = 0.005
ACCEPT_BACKOFF_MAX = 1.0


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

    __slots__ = ("sock", "fd", "ex", "out", "watching", "lingering", "deadline", "lingered")

    def __init__(self, sock, fd, ex):
        self.sock = sock
        self.fd = fd
        self.ex = ex
        # out is the part of the answers the kernel has not taken yet.
        self.out = None
        # What the poller watches the descriptor for (0: nothing).
        self.watching = 0
        # In a lingering close: the answer is sent, the write side shut,
        # and what the client still sends is dropped until deadline.
        self.lingering = False
        self.deadline = 0.0
        self.lingered = 0


def serve(kind, listener, make_exchange, page, stats, opts, stop_fd):
    """Serve listener until stop_fd becomes readable; counters go to stats.

    opts carries accept_batch (0: until accept says EAGAIN), rearm
    ("oneshot": unregister and register again around every accept and read,
    thread post #15), nodelay and stream (read and discard, post #1's
    throughput test).
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
    lingering = []
    # After a failed accept the listener is not watched until resume_at.
    accept_state = {"paused": False, "resume_at": 0.0, "backoff": 0.0}

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
        if c.lingering:
            lingering.remove(c)

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
        c.deadline = time.monotonic() + LINGER_TIME
        lingering.append(c)
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

    def flush(c):
        """Write what is left of c's answers, on a writable wakeup."""
        sc["sendto"] += 1
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            close(c)
            return
        stats.bytes_written += n
        if n < len(c.out):
            c.out = c.out[n:]
            return
        c.out = None
        if c.ex.closing:
            finish(c)
        else:
            watch(c, R)

    def pause_accept():
        st = accept_state
        st["backoff"] = min(ACCEPT_BACKOFF_MAX, max(ACCEPT_BACKOFF, st["backoff"] * 2))
        st["resume_at"] = time.monotonic() + st["backoff"]
        if not st["paused"]:
            unregister(lfd)
            ctl_call()
            st["paused"] = True

    def timeout():
        """The wait's timeout: none, unless a connection lingers or accepting
        is paused. Expired lingering closes and pauses end here."""
        if not lingering and not accept_state["paused"]:
            return BLOCK
        now = time.monotonic()
        for c in [c for c in lingering if c.deadline <= now]:
            close(c)
        st = accept_state
        if st["paused"] and st["resume_at"] <= now:
            register(lfd, R)
            ctl_call()
            st["paused"] = False
        deadlines = [c.deadline for c in lingering]
        if st["paused"]:
            deadlines.append(st["resume_at"])
        if not deadlines:
            return BLOCK
        return max(0.001, min(deadlines) - now) * SCALE

    register(lfd, R)
    register(stop_fd, R)
    if ctl:
        sc[ctl] += 2
    try:
        while True:
            events = wait(BLOCK if not lingering and not accept_state["paused"] else timeout())
            sc[wait_syscall] += 1
            for fd, ev in events:
                c = conns.get(fd)
                if c is not None:
                    if ev & W:
                        flush(c)
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
                            # A full socket: wait until it drains, reading
                            # nothing meanwhile, so a client that does not
                            # read its answers cannot make the server buffer
                            # more.
                            c.out = memoryview(out)[n:]
                            watch(c, W)
                            continue
                    if ex.closing:
                        finish(c)
                    elif oneshot:
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
                        except OSError:
                            # Out of descriptors (EMFILE, ENFILE), memory,
                            # or anything else: back off.
                            stats.accept_errors += 1
                            if oneshot:
                                register(lfd, R)
                                ctl_call()
                            pause_accept()
                            break
                        n += 1
                        accept_state["backoff"] = 0.0
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
                        conns[cfd] = c
                    if oneshot and not accept_state["paused"]:
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
