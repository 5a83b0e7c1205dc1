"""The trio server (thread posts #1, #15-#18): one task per connection,
serve_listeners' accept loop, trio's SocketStream.

Trio accepts one connection per `await listener.accept()`, trying the
accept before it waits, and registers and unregisters with epoll around
every wait (post #15); it does not let a program count its accepts, wakeups
or syscalls.
"""

import functools
import signal
import socket

import trio

from exchange import LINGER_BYTES, LINGER_TIME, RECV_SIZE, client_ip


async def handle(stream, make_exchange, page, stats, opts):
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
        while True:
            data = await stream.receive_some(RECV_SIZE)
            if not data:
                return
            stats.bytes_read += len(data)
            out = ex.feed(data)
            if out:
                await stream.send_all(out)
                stats.bytes_written += len(out)
            if ex.closing:
                if ex.linger:
                    await linger(stream, stats)
                return
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


async def _serve(listener, make_exchange, page, stats, opts, ready):
    listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(listener))]
    handler = functools.partial(handle, make_exchange=make_exchange, page=page, stats=stats, opts=opts)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        ready()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(functools.partial(trio.serve_listeners, handler, listeners, handler_nursery=nursery))
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def serve(listener, make_exchange, page, stats, opts, ready):
    """Serve listener until SIGTERM or SIGINT; ready() is called once the
    signals are handled."""
    trio.run(_serve, listener, make_exchange, page, stats, opts, ready)
