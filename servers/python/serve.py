"""sockbench's Python servers: the forum thread's own stacks, to run beside
sockbench's Go servers in the same matrix.

    /usr/bin/python3 servers/python/serve.py LAYER [flags]
    /usr/bin/pypy3 servers/python/serve.py epoll --parser pure [flags]

LAYER is the I/O layer: epoll, poll, selectors (the raw loop of
rawloop.py), asyncio, uvloop (aioserver.py) or trio (trioserver.py). Every
one answers GET / with the Go servers' page through Jinja2 (page.py), and
parses requests with httptools or in plain Python (exchange.py). Flags named
after a sockbench knob mean what the knob means (servers/knobs.go); see
README.md beside this file.

Name the interpreter: Debian's Python packages are importable by
/usr/bin/python3, which need not be the `python3` first on PATH.
"""

import argparse
import json
import os
import platform
import signal
import socket
import sys
import traceback

from deadlines import Deadlines, parse_duration
from exchange import PARSERS, exchange_class
from page import HANDLERS, TEMPLATES, Page
from stats import Stats, write_file

RAW = ("epoll", "poll", "selectors")
LAYERS = RAW + ("asyncio", "uvloop", "trio")
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Flag:
    """One setting. knob names the sockbench knob the flag is (None for
    the Python servers' own); layers limits it to some layers, and setting
    it away from its default for another is refused, as sockbench refuses
    a knob for a model it does not apply to."""

    def __init__(self, name, default, help, knob=None, choices=None, minimum=None, layers=None, duration=False):
        self.name, self.default, self.help = name, default, help
        self.knob, self.choices, self.minimum, self.layers = knob, choices, minimum, layers
        # A duration's default is its text, as the knob's is written.
        self.duration = duration

    @property
    def option(self):
        return "--" + self.name.replace("_", "-")


FLAGS = [
    Flag("backlog", 0, "listen(2) backlog; 0 = the kernel maximum (net.core.somaxconn), 1 is honoured as given (post #5's listen(1))",
         knob="backlog", minimum=0),
    Flag("reuseport", False, "open the listeners with SO_REUSEPORT, one process each (post #1's four processes)",
         knob="reuseport"),
    Flag("listeners", 1, "number of SO_REUSEPORT listeners, each served by its own process (needs --reuseport)",
         knob="listeners", minimum=1),
    Flag("nodelay", True, "set TCP_NODELAY on accepted connections (asyncio, uvloop and trio set it themselves)",
         knob="nodelay"),
    Flag("accept_batch", 0, "connections accepted per listener wakeup; 0 = until accept says EAGAIN (posts #16-#19)",
         knob="accept_batch", minimum=0, layers=RAW),
    Flag("rearm", "persistent", "poller registration: persistent, or oneshot (unregister and register around every accept and read, post #15)",
         knob="rearm", choices=("persistent", "oneshot"), layers=RAW),
    Flag("header_timeout", "60s", "a request head must be complete this long after its first byte (after accept, for a "
         "connection's first request), or the connection is closed; a duration as Go writes it (60s, 500ms)",
         knob="header_timeout", duration=True),
    Flag("idle_timeout", "75s", "a kept-alive connection with no request in progress is closed after this long",
         knob="idle_timeout", duration=True),
    Flag("handler", "template", "how the page is made: static bytes, a Jinja2 template compiled once, re-parsed per request "
         "(Go's template-reparse), or compiled with enable_async=True (post #5's mistake: an asyncio loop per render)",
         knob="handler", choices=HANDLERS),
    Flag("body", "small", "page size: small (379 bytes) or large (3044 bytes)",
         knob="body", choices=tuple(TEMPLATES)),
    Flag("close_after_response", False, "close the connection after every answer, unannounced (no Connection: close), "
         "as the thread's servers did: wrk counts each such close as a read error",
         knob="close_after_response"),
    Flag("parser", "httptools", "request parser: httptools (the thread's; CPython only) or pure (plain Python, the Go servers' rules; for PyPy)",
         choices=PARSERS),
    Flag("stream", False, "read and discard, no HTTP (post #1's throughput test)"),
]

# Debian's package for each module a layer or parser imports.
PACKAGES = {"httptools": "python3-httptools", "uvloop": "python3-uvloop", "trio": "python3-trio", "jinja2": "python3-jinja2"}


def parse_bool(text):
    """The texts Go's strconv.ParseBool reads, as sockbench writes knobs."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError("want true or false, not %r" % text)


def duration(text):
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def int_at_least(minimum):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("want an integer, not %r" % text)
        if n < minimum:
            raise argparse.ArgumentTypeError("%d: at least %d" % (n, minimum))
        return n
    return parse


def parser():
    p = argparse.ArgumentParser(prog="serve.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("layer", nargs="?", choices=LAYERS, help="the I/O layer")
    p.add_argument("--addr", default="127.0.0.1:8080", help="host:port to listen on; port 0 picks a free port")
    p.add_argument("--stats-file", help="write the server's counters here as JSON when it stops (servers/stats.go's format)")
    p.add_argument("--describe", action="store_true", help="print the flags as JSON and exit (for the tests that hold them to sockbench's knobs)")
    for f in FLAGS:
        kw = {"default": f.default, "dest": f.name, "help": f.help + (" [%s]" % ", ".join(f.layers) if f.layers else "")}
        if f.duration:
            kw.update(type=duration, metavar="DURATION")
        elif isinstance(f.default, bool):
            kw.update(nargs="?", const=True, type=parse_bool, metavar="BOOL")
        elif isinstance(f.default, int):
            kw.update(type=int_at_least(f.minimum))
        else:
            kw.update(choices=f.choices)
        p.add_argument(f.option, **kw)
    return p


def describe():
    return {"layers": list(LAYERS), "flags": [
        {"flag": f.option, "knob": f.knob, "default": f.default, "choices": list(f.choices) if f.choices else None,
         "layers": list(f.layers) if f.layers else None} for f in FLAGS]}


def problems(args):
    """What is wrong with the flags for the layer, as sentences."""
    out = []
    for f in FLAGS:
        if f.layers and args.layer not in f.layers and getattr(args, f.name) != f.default:
            out.append("%s does not apply to the %s layer (it applies to %s)" % (f.option, args.layer, ", ".join(f.layers)))
    if args.listeners > 1 and not args.reuseport:
        out.append("--listeners %d needs --reuseport (without SO_REUSEPORT only one socket can bind the address)" % args.listeners)
    if args.handler == "enable-async" and args.layer in ("asyncio", "uvloop"):
        out.append("--handler enable-async cannot run on %s: Jinja2's render() would run its coroutine on the loop "
                   "that is already running, which asyncio refuses; post #5's mistake needs a server outside asyncio "
                   "(epoll, poll, selectors, trio)" % args.layer)
    return out


def implementation():
    return "pypy" if platform.python_implementation() == "PyPy" else "python"


def missing_module(e):
    """One sentence for a module this interpreter cannot import."""
    name = (e.name or "").split(".")[0]
    if implementation() == "pypy" and name in ("httptools", "uvloop"):
        hint = "%s is a CPython extension, which PyPy cannot load" % name
        if name == "httptools":
            hint += "; use --parser pure"
        return "%s cannot be imported by %s: %s" % (name, sys.executable, hint)
    pkg = PACKAGES.get(name, "the package that provides it")
    return "%s cannot be imported by %s: install %s (run make deps), and run the servers with /usr/bin/python3" % (
        name, sys.executable, pkg)


def somaxconn():
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return socket.SOMAXCONN


def open_listeners(addr, count, reuseport, backlog):
    """count listening sockets on addr, the rest on the port the first got."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    port = int(port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    out = []
    try:
        for _ in range(count):
            s = socket.socket(family, socket.SOCK_STREAM)
            out.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuseport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind((host, port))
            port = s.getsockname()[1]
            s.listen(backlog)
    except OSError:
        for s in out:
            s.close()
        raise
    return out


def run_layer(args, listener, backlog, make_exchange, page):
    """Serve one listener in this process until SIGTERM or SIGINT."""
    stats = Stats()
    deadlines = Deadlines(args.header_timeout, args.idle_timeout)

    def ready():
        # Stop signals were blocked from the start, so one sent as soon as
        # the server said it listens waits for the handler instead of
        # killing the server before it writes its stats.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    if args.layer in RAW:
        import rawloop
        listener.setblocking(False)
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        # A signal writes to w; the loop watches r, so it stops at once
        # and its wait needs no timeout.
        signal.set_wakeup_fd(w)
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, frame: None)
        ready()
        rawloop.serve(args.layer, listener, make_exchange, page, stats, args, deadlines, r)
    elif args.layer in ("asyncio", "uvloop"):
        import aioserver
        aioserver.serve(args.layer, listener, backlog, make_exchange, page, stats, args, deadlines, ready)
    else:
        import trioserver
        trioserver.serve(listener, make_exchange, page, stats, args, deadlines, ready)
    return stats


def run_processes(args, listeners, backlog, make_exchange, page, name):
    """One process per SO_REUSEPORT listener (post #1); their counters are
    merged when they have all stopped."""
    children = {}
    for ln in listeners:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(r)
                for other in listeners:
                    if other is not ln:
                        other.close()
                stats = run_layer(args, ln, backlog, make_exchange, page)
                os.write(w, json.dumps(stats.to_json(name)).encode())
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        os.close(w)
        children[pid] = r
    for ln in listeners:
        ln.close()
    stopping = []

    def stop(signum=None, frame=None):
        stopping.append(signum)
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    total = Stats()
    failed = []
    while children:
        pid, status = os.wait()
        r = children.pop(pid, None)
        if r is None:
            continue
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        os.close(r)
        if os.waitstatus_to_exitcode(status) != 0 or not chunks:
            failed.append(pid)
        else:
            total.add(json.loads(b"".join(chunks)))
        if not stopping:
            # A process that ends on its own leaves its listener's share of
            # the connections unserved: stop them all.
            if pid not in failed:
                failed.append(pid)
            stop()
    if failed:
        raise SystemExit("serve.py: %d of %d server processes failed or stopped on their own" % (
            len(set(failed)), len(listeners)))
    return total


def main(argv):
    args = parser().parse_args(argv)
    if args.describe:
        print(json.dumps(describe(), indent=2))
        return 0
    if args.layer is None:
        parser().error("name the layer: " + ", ".join(LAYERS))
    bad = problems(args)
    if bad:
        parser().error("; ".join(bad))
    name = "%s-%s" % (implementation(), args.layer)
    try:
        if args.layer == "uvloop":
            import uvloop  # noqa: F401 (refused here, not after the fork)
        elif args.layer == "trio":
            import trio  # noqa: F401
        make_exchange = exchange_class(args.parser)
    except ImportError as e:
        print("serve.py: " + missing_module(e), file=sys.stderr)
        return 1
    page = Page("sockbench-" + name, args.handler, args.body, args.close_after_response)
    backlog = args.backlog or somaxconn()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    count = args.listeners if args.reuseport else 1
    try:
        listeners = open_listeners(args.addr, count, args.reuseport, backlog)
    except (OSError, ValueError) as e:
        print("serve.py: listen on %s: %s" % (args.addr, e), file=sys.stderr)
        return 1
    host, port = listeners[0].getsockname()[:2]
    shown = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    print("sockbench %s listening on %s" % (name, shown), flush=True)
    if count == 1:
        stats = run_layer(args, listeners[0], backlog, make_exchange, page)
        listeners[0].close()
    else:
        stats = run_processes(args, listeners, backlog, make_exchange, page, name)
    if args.stats_file:
        write_file(args.stats_file, stats.to_json(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
