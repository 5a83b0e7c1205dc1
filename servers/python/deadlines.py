"""The servers' deadlines: the header and idle timeouts of sockbench's
header_timeout and idle_timeout knobs (servers/knobs.go), as the Go servers
apply them, and the pause of accepting after a failed accept.

A connection's deadline is a number it holds (due, on time.monotonic's
clock; 0 for none), set as it starts waiting for a request: no timer per
request, which post #20 would count against the hot path. Each server
sweeps its connections once a tick, an eighth of the shorter timeout and
at most a second, and closes those whose deadline has passed, so a
connection is closed at most a tick after its timeout.
"""

import re
import sys

# Go's time.ParseDuration units, in seconds.
_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_duration = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text):
    """Seconds in a duration as Go's time.ParseDuration reads it ("60s",
    "500ms", "1m30s"), which is how sockbench writes a duration knob; it
    must be positive, as the knob's must. ValueError says what is wrong."""
    body = text[1:] if text[:1] in ("+", "-") else text
    seconds, pos = 0.0, 0
    if body == "0":
        pos = 1
    for m in _duration.finditer(body):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError("want a duration such as 60s or 500ms, not %r" % text)
    if text[:1] == "-" or seconds <= 0:
        raise ValueError("%s: must be positive" % text)
    return seconds


class Deadlines:
    """The header and idle timeouts of one server, in seconds."""

    __slots__ = ("header", "idle", "tick")

    def __init__(self, header, idle):
        self.header = header
        self.idle = idle
        self.tick = min(header, idle, 8.0) / 8

    def await_request(self, c, partial, answered, now):
        """Put c, which now waits for input, under the timeout that applies:
        the idle timeout when no request is in progress, else the header
        timeout from the first byte of the request. answered says requests
        were answered since c last waited, so what is left begins a new
        one. A request still incomplete keeps its deadline, so a client
        sending its head a byte at a time cannot push it back. c has due
        and heading (the header timeout is running)."""
        if not partial:
            c.due = now + self.idle
            c.heading = False
        elif answered or not c.heading:
            c.due = now + self.header
            c.heading = True

    def accepted(self, c, now):
        """A new connection's first request head is due from accept on."""
        c.due = now + self.header
        c.heading = True


def next_accept_backoff(last):
    """How long to stop accepting after a failed accept, given the pause
    before it (0 after a success): doubling from 5 ms to a second, as the Go
    servers do (servers.NextAcceptBackoff). Out of descriptors, accept fails
    at once and the listener stays ready, so retrying at once would spin
    on a core (issue #19: asyncio's own accept loop did, logging every
    failure)."""
    return min(max(2 * last, 0.005), 1.0)


_warned = []


def accept_failed(stats, err):
    """Count a failed accept, and say so on stderr the first time only."""
    stats.accept_errors += 1
    if not _warned:
        _warned.append(err)
        print("serve.py: accept failed (%s); pausing accepts, from 5 ms doubling to 1 s, while it fails "
              "(counted as accept_errors; no more warnings)" % err, file=sys.stderr, flush=True)
