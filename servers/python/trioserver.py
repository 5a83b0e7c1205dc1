"""The trio server (thread posts #1, #15-#18): one task per connection,
an accept loop like trio.serve_listeners', trio's SocketStream.

Trio accepts one connection per `await listener.accept()`, trying the
accept before it waits, and registers and unregisters with epoll around
every wait (post #15); it does not let a program count its accepts, wakeups
or syscalls. The accept loop is the server's own, not serve_listeners', so
that out of descriptors it pauses as the Go servers do and says so once:
serve_listeners retries every 100 ms and logs every failure with its
traceback.
"""

import functools
import signal
import socket
from time import monotonic

import trio

from deadlines import accept_failed, next_accept_backoff
from exchange import LINGER_BYTES, LINGER_TIME, RECV_SIZE, client_ip


class Conn:
    """A connection's deadline (see deadlines), and the cancel scope its
    task runs in, which the sweep cancels when the deadline passes."""

    __slots__ = ("due", "heading", "scope")

    def __init__(self):
        self.due = 0.0
        self.heading = False
        self.scope = trio.CancelScope()


async def handle(stream, make_exchange, page, stats, opts, deadlines, conns):
    stats.connections += 1
    try:
        if not opts.nodelay:
            # trio sets TCP_NODELAY on every SocketStream.
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, False)
        if opts.stream:
            while True:
                data = await stream.receive_some(RECV_SIZE)
                if not data:
                    return
                stats.bytes_read += len(data)
        ex = make_exchange(page, stats, client_ip(stream.socket.getpeername()[0]))
        c = Conn()
        deadlines.accepted(c, monotonic())
        await_request = deadlines.await_request
        conns.add(c)
        try:
            with c.scope:
                while True:
                    data = await stream.receive_some(RECV_SIZE)
                    if not data:
                        return
                    stats.bytes_read += len(data)
                    out = ex.feed(data)
                    answered = bool(out)
                    # No deadline while an answer waits for the client to
                    # read it; send_all returns once the kernel has it all,
                    # so the exchange holds back what follows meanwhile.
                    while out:
                        c.due = 0.0
                        await stream.send_all(out)
                        stats.bytes_written += len(out)
                        out = ex.feed(b"") if ex.held else b""
                    if ex.closing:
                        c.due = 0.0
                        if ex.linger:
                            await linger(stream, stats)
                        return
                    await_request(c, ex.partial, answered, monotonic())
        finally:
            conns.discard(c)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
    finally:
        await stream.aclose()


async def linger(stream, stats):
    """Shut the write side, then drop what the client still sends, for a
    while (see exchange.LINGER_TIME)."""
    await stream.send_eof()
    with trio.move_on_after(LINGER_TIME):
        dropped = 0
        while dropped < LINGER_BYTES:
            data = await stream.receive_some(RECV_SIZE)
            if not data:
                return
            dropped += len(data)
            stats.bytes_read += len(data)


async def sweep(conns, deadlines, stats):
    """Every tick, cancel the connections whose deadline has passed."""
    while True:
        await trio.sleep(deadlines.tick)
        now = monotonic()
        for c in [c for c in conns if 0 < c.due <= now]:
            stats.timed_out += 1
            c.due = 0.0
            c.scope.cancel()


async def accept_forever(listener, nursery, handler, stats):
    """Start handler for every connection listener accepts, pausing after a
    failed accept (deadlines.next_accept_backoff) while the connections
    already open are served and new clients wait in the backlog."""
    backoff = 0.0
    while True:
        try:
            stream = await listener.accept()
        except OSError as e:
            # Out of descriptors (EMFILE, ENFILE), memory, or anything else;
            # trio's accept already retries what is not a failure.
            accept_failed(stats, e)
            backoff = next_accept_backoff(backoff)
            await trio.sleep(backoff)
            continue
        backoff = 0.0
        nursery.start_soon(handler, stream)


async def _serve(listener, make_exchange, page, stats, opts, deadlines, ready):
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(listener))
    conns = set()
    handler = functools.partial(handle, make_exchange=make_exchange, page=page, stats=stats, opts=opts,
                                deadlines=deadlines, conns=conns)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        ready()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_forever, listener, nursery, handler, stats)
            if not opts.stream:
                nursery.start_soon(sweep, conns, deadlines, stats)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def serve(listener, make_exchange, page, stats, opts, deadlines, ready):
    """Serve listener until SIGTERM or SIGINT; ready() is called once the
    signals are handled."""
    trio.run(_serve, listener, make_exchange, page, stats, opts, deadlines, ready)
