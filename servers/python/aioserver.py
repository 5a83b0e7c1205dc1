"""The asyncio server, on asyncio's own loop or on uvloop's (thread posts
#1, #5: uvloop-test.py): the protocol API, callbacks and transports, no
coroutine per connection.

On asyncio's loop the server accepts itself, as asyncio's own accept loop
does (up to the listen backlog's worth of connections per wakeup, so
--backlog also bounds its accepts per wakeup, and a task per connection
to make its transport), but it pauses after a failed accept: asyncio's own
loop retried at once for every connection pending and logged each failure
with its traceback (issue #19: out of descriptors, a core and 42 MB of
stderr in 7 s). uvloop's libuv accepts until EAGAIN; out of descriptors it
closes what is pending with a descriptor it keeps in reserve for that, and
does not spin. Neither lets a program count its accepts, wakeups or
syscalls.
"""

import asyncio
import signal
import socket
from time import monotonic

from deadlines import accept_failed, next_accept_backoff
from exchange import LINGER_BYTES, LINGER_TIME, client_ip


class Shared:
    """What every connection of one server uses."""

    __slots__ = ("loop", "make_exchange", "page", "stats", "nodelay", "deadlines", "conns")

    def __init__(self, loop, make_exchange, page, stats, nodelay, deadlines):
        self.loop = loop
        self.make_exchange = make_exchange
        self.page = page
        self.stats = stats
        self.nodelay = nodelay
        self.deadlines = deadlines
        # The open connections, for the sweep of their deadlines.
        self.conns = set()


class HTTPProtocol(asyncio.Protocol):
    """One connection, fed by asyncio's callbacks."""

    def __init__(self, shared):
        self.shared = shared
        self.stats = shared.stats
        self.await_request = shared.deadlines.await_request
        self.transport = None
        self.ex = None
        # Bytes dropped in a lingering close; None while not lingering.
        self.lingered = None
        self.timer = None
        # The transport's buffer is past its high-water mark.
        self.paused = False
        # When the connection times out (0: never); see deadlines.
        self.due = 0.0
        self.heading = False

    def connection_made(self, transport):
        sh = self.shared
        self.transport = transport
        self.stats.connections += 1
        if not sh.nodelay:
            # asyncio and uvloop set TCP_NODELAY on every TCP connection.
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        self.ex = sh.make_exchange(sh.page, self.stats, client_ip(transport.get_extra_info("peername")[0]))
        sh.deadlines.accepted(self, monotonic())
        sh.conns.add(self)

    def data_received(self, data):
        self.stats.bytes_read += len(data)
        if self.lingered is not None:
            self.lingered += len(data)
            if self.lingered >= LINGER_BYTES:
                self.transport.abort()
            return
        ex = self.ex
        out = ex.feed(data)
        if out:
            # Counted as handed to the transport: asyncio writes it.
            self.stats.bytes_written += len(out)
            self.transport.write(out)
        if ex.held:
            # Read nothing more until what is held back is answered, and
            # answer it a bound's worth per turn of the loop, so the other
            # connections are served in between. No deadline meanwhile.
            self.due = 0.0
            self.transport.pause_reading()
            if not self.paused:
                self.shared.loop.call_soon(self.proceed)
        elif ex.closing:
            self.end()
        else:
            self.await_request(self, ex.partial, out, monotonic())

    def proceed(self):
        """Answer a bound's worth of what the exchange held back, and come
        back on the loop's next turn, or once the transport's buffer has
        drained (resume_writing); once all is answered, read again and end
        the connection or wait for its next request."""
        if self.paused or self.transport.is_closing():
            return
        ex = self.ex
        out = ex.feed(b"")
        if out:
            self.stats.bytes_written += len(out)
            self.transport.write(out)
        if ex.held:
            if not self.paused:
                self.shared.loop.call_soon(self.proceed)
        elif ex.closing:
            self.end()
        else:
            if not self.paused:
                self.transport.resume_reading()
            self.await_request(self, ex.partial, True, monotonic())

    def end(self):
        """End the connection once its last answer is written."""
        self.due = 0.0
        if self.ex.linger:
            # Shut the write side once the answer is out, and drop what
            # the client still sends for a while.
            self.transport.write_eof()
            self.transport.resume_reading()
            self.lingered = 0
            self.timer = self.shared.loop.call_later(LINGER_TIME, self.transport.abort)
        else:
            self.transport.close()

    def eof_received(self):
        # The client is done: close (returning a false value does).
        return False

    def connection_lost(self, exc):
        self.shared.conns.discard(self)
        if self.timer is not None:
            self.timer.cancel()

    # A client that does not read its answers must not make the server
    # buffer more: stop reading and answering while the transport's buffer
    # is full. The connection has no deadline meanwhile (the sweep passes
    # it by); its timeout starts again after.
    def pause_writing(self):
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self):
        self.paused = False
        ex = self.ex
        if ex.held:
            self.proceed()
            return
        self.transport.resume_reading()
        if not ex.closing:
            self.await_request(self, ex.partial, True, monotonic())


class DiscardProtocol(asyncio.Protocol):
    """Stream mode: read and drop (thread post #1's throughput test)."""

    def __init__(self, stats):
        self.stats = stats

    def connection_made(self, transport):
        self.stats.connections += 1

    def data_received(self, data):
        self.stats.bytes_read += len(data)


def sweep(shared):
    """Close the connections whose deadline has passed, then again a tick
    later."""
    now = monotonic()
    for p in [p for p in shared.conns if 0 < p.due <= now and not p.paused]:
        shared.stats.timed_out += 1
        shared.conns.discard(p)
        p.transport.close()
    shared.loop.call_later(shared.deadlines.tick, sweep, shared)


def accept_connections(loop, listener, backlog, factory, stats):
    """Accept on listener, as asyncio's loop would, but pausing after a
    failed accept (deadlines.next_accept_backoff) while the connections
    already open are served and new clients wait in the backlog."""
    lfd = listener.fileno()
    backoff = [0.0]

    async def connect(sock):
        try:
            await loop.connect_accepted_socket(factory, sock)
        except OSError:
            sock.close()

    def ready():
        for _ in range(backlog):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:
                # Out of descriptors (EMFILE, ENFILE), memory, or anything
                # else: the listener stays ready, so stop watching it.
                accept_failed(stats, e)
                loop.remove_reader(lfd)
                backoff[0] = next_accept_backoff(backoff[0])
                loop.call_later(backoff[0], loop.add_reader, lfd, ready)
                return
            backoff[0] = 0.0
            loop.create_task(connect(sock))

    loop.add_reader(lfd, ready)
    return lambda: loop.remove_reader(lfd)


async def _serve(layer, listener, backlog, make_exchange, page, stats, opts, deadlines, ready):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    ready()
    if opts.stream:
        def factory():
            return DiscardProtocol(stats)
    else:
        shared = Shared(loop, make_exchange, page, stats, opts.nodelay, deadlines)

        def factory():
            return HTTPProtocol(shared)

        loop.call_later(deadlines.tick, sweep, shared)
    if layer == "uvloop":
        # create_server listens again with its own backlog (100 unless told).
        server = await loop.create_server(factory, sock=listener, backlog=backlog)
        close = server.close
    else:
        listener.setblocking(False)
        close = accept_connections(loop, listener, backlog, factory, stats)
    await stop
    close()


def serve(layer, listener, backlog, make_exchange, page, stats, opts, deadlines, ready):
    """Serve listener until SIGTERM or SIGINT; ready() is called once the
    signals are handled."""
    if layer == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(layer, listener, backlog, make_exchange, page, stats, opts, deadlines, ready))
    finally:
        loop.close()
