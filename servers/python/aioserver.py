"""The asyncio server, on asyncio's own loop or on uvloop's (thread posts
#1, #5: uvloop-test.py): the protocol API, callbacks and transports, no
coroutine per connection.

asyncio accepts inside its loop, up to the listen backlog's worth of
connections per wakeup (so --backlog also bounds its accepts per wakeup);
uvloop's libuv accepts until EAGAIN. Neither lets a program count its
accepts, wakeups or syscalls.
"""

import asyncio
import signal
import socket

from exchange import LINGER_BYTES, LINGER_TIME, client_ip


class HTTPProtocol(asyncio.Protocol):
    """One connection, fed by asyncio's callbacks."""

    def __init__(self, loop, make_exchange, page, stats, nodelay):
        self.loop = loop
        self.make_exchange = make_exchange
        self.page = page
        self.stats = stats
        self.nodelay = nodelay
        self.transport = None
        self.ex = None
        # Bytes dropped in a lingering close; None while not lingering.
        self.lingered = None
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        self.stats.connections += 1
        if not self.nodelay:
            # asyncio and uvloop set TCP_NODELAY on every TCP connection.
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        self.ex = self.make_exchange(self.page, self.stats, client_ip(transport.get_extra_info("peername")[0]))

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
        if ex.closing:
            if ex.linger:
                # Shut the write side once the answer is out, and drop what
                # the client still sends for a while.
                self.transport.write_eof()
                self.lingered = 0
                self.timer = self.loop.call_later(LINGER_TIME, self.transport.abort)
            else:
                self.transport.close()

    def eof_received(self):
        # The client is done: close (returning a false value does).
        return False

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()

    # A client that does not read its answers must not make the server
    # buffer more: stop reading while the transport's buffer is full.
    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


class DiscardProtocol(asyncio.Protocol):
    """Stream mode: read and drop (thread post #1's throughput test)."""

    def __init__(self, stats):
        self.stats = stats

    def connection_made(self, transport):
        self.stats.connections += 1

    def data_received(self, data):
        self.stats.bytes_read += len(data)


async def _serve(listener, backlog, make_exchange, page, stats, opts, ready):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    ready()
    if opts.stream:
        def factory():
            return DiscardProtocol(stats)
    else:
        def factory():
            return HTTPProtocol(loop, make_exchange, page, stats, opts.nodelay)
    # create_server listens again with its own backlog (100 unless told).
    server = await loop.create_server(factory, sock=listener, backlog=backlog)
    await stop
    server.close()


def serve(layer, listener, backlog, make_exchange, page, stats, opts, ready):
    """Serve listener until SIGTERM or SIGINT; ready() is called once the
    signals are handled."""
    if layer == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(listener, backlog, make_exchange, page, stats, opts, ready))
    finally:
        loop.close()
