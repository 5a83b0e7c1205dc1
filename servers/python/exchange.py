"""The HTTP/1.1 side of one connection, the same for every I/O layer: bytes
in, answers out, and whether the connection ends after them.

Two request parsers do the same job. HttptoolsExchange is the thread's
(post #1: "read entire GET request, httptools tells me when it's done"):
httptools feeds callbacks as it parses. httptools is a CPython extension, so
PyPy cannot import it; PureExchange is the same rules in plain Python, the
ones the Go servers' parser (servers/http1/request.go) applies, for PyPy and
for comparing the two parsers on CPython.

An exchange is made with the server's Page, the counters it adds its
answers to (anything with requests and errors: a stats.Stats) and the
client's address. Its feed(data) returns the answers to the complete
requests in data, in order. After it, closing says the connection must end
once they are written, and linger says the close must be a lingering one:
the client may still be sending (an error answer, or bytes left unread
behind the answer that closed the connection), and closing a socket with
unread input makes the kernel send RST, which can cost the client its
answer. partial says a request has begun and is not complete (the header
timeout applies, not the idle one).

held says feed stopped answering once its answers passed OUT_BOUND and
holds the rest of data back: the server writes the answers, reads nothing
more from the client while they wait for it to read them, and calls
feed(b"") for the rest once they are written. So a client that pipelines
requests and never reads costs a bounded buffer, not the answers to all
it sent (issue #19: asyncio answered a whole 256 KiB read at once, and
100 such clients took 725 to 896 MB).
"""

import re

try:
    import httptools
except ImportError as e:  # PyPy: httptools is a CPython extension
    httptools = None
    HTTPTOOLS_ERROR = e

# The largest request head a server takes (the Go servers' MaxHeadBytes).
MAX_HEAD = 8 << 10
# A lingering close drops what the client still sends for at most this long
# and this much (the Go servers' LingerTime and LingerBytes).
LINGER_TIME = 1.0
LINGER_BYTES = 1 << 20
# What an exchange reads at once.
RECV_SIZE = 16 << 10
# feed stops answering once its answers pass this many bytes and holds the
# rest of its input back (the answers of one slice of input may pass it).
OUT_BOUND = 64 << 10
# httptools is fed at most this much at once, so the answers to one feed
# pass OUT_BOUND by at most a slice's worth: 2 KiB of the shortest
# requests, about 75 answers.
FEED_SLICE = 2 << 10

PARSERS = ("httptools", "pure")


def exchange_class(parser):
    """The exchange for a parser name; ImportError when httptools is not
    importable by this interpreter."""
    if parser == "pure":
        return PureExchange
    if parser == "httptools":
        if httptools is None:
            raise HTTPTOOLS_ERROR
        return HttptoolsExchange
    raise ValueError("unknown parser %r (parsers: %s)" % (parser, ", ".join(PARSERS)))


def client_ip(host):
    """The client's address as the page shows it: an IPv4-mapped IPv6
    address as plain IPv4, as the Go servers show it."""
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


class Reject(Exception):
    """Raised in an httptools callback: answer with status and close."""

    def __init__(self, status):
        Exception.__init__(self, status)
        self.status = status


# The text http-parser gives HPE_HEADER_OVERFLOW, its own head limit (80 KiB,
# past ours, but reached first by one header line longer than that: httptools
# hands a header to its callback only once it is complete).
HEADER_OVERFLOW = "too many header bytes seen; overflow detected"


class HttptoolsExchange:
    """One connection's requests, parsed by httptools (http-parser 2.9)."""

    __slots__ = ("page", "counters", "ip", "parser", "out", "closing", "linger",
                 "url", "head", "hosts", "minor", "held", "partial", "body", "cr")

    def __init__(self, page, counters, ip):
        self.page = page
        self.counters = counters
        self.ip = ip
        self.out = []
        self.closing = False
        self.linger = False
        self.url = b""
        self.head = 0
        self.hosts = 0
        self.minor = 1
        # held is the input held back (bytes); body says a request's body
        # is being read; cr says the last byte fed was a CR outside a body,
        # whose LF has not come yet.
        self.held = b""
        self.partial = False
        self.body = False
        self.cr = False
        self.parser = httptools.HttpRequestParser(self)

    def feed(self, data):
        out = self.out = []
        if self.held:
            data = self.held + data
            self.held = b""
        if self.cr:
            self.cr = False
            if data[:1] != b"\n":
                self.fail(400)
                return b"".join(out)
        # Every CR followed by LF, and too little to pass the bound: one call.
        if len(data) <= FEED_SLICE and data.count(b"\r") == data.count(b"\r\n"):
            self.parse(data)
        else:
            self.parse_slices(data)
        return b"".join(out)

    def parse_slices(self, data):
        """Parse data a slice at a time, holding the rest back once the
        answers pass OUT_BOUND, and judge each CR that no LF follows before
        http-parser sees it. Built lenient, http-parser ends a head at
        "\r\n\r" and reads the next byte as its LF, so the rest of the head
        became a request of its own (issue #19); RFC 9112 §2.2 makes a bare
        CR outside the content invalid, and the Go servers refuse it."""
        bare = [m.start() for m in _bare_cr(data)]
        view = memoryview(data)
        n = len(data)
        pos = size = 0
        while pos < n:
            end = min(n, pos + FEED_SLICE)
            if bare and bare[0] < end:
                end = bare[0]
            if end > pos:
                answered = len(self.out)
                self.parse(view[pos:end])
                size += sum(map(len, self.out[answered:]))
                pos = end
            if self.closing:
                # Nothing after a request that closes the connection is read.
                self.linger = self.linger or pos < n
                return
            if size >= OUT_BOUND:
                self.held = bytes(view[pos:])
                return
            if bare and bare[0] == pos:
                del bare[0]
                if not self.body:
                    if pos + 1 < n:
                        self.fail(400)
                        return
                    # The last byte: its LF may come with the next read.
                    self.cr = True

    def parse(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            # An upgrade request is answered as a plain one (no server here
            # speaks another protocol); what follows it is not HTTP/1.1.
            self.closing = True
            self.linger = self.linger or e.args[0] < len(data)
        except httptools.HttpParserCallbackError as e:
            reject = e.__context__
            self.fail(reject.status if isinstance(reject, Reject) else 500)
        except httptools.HttpParserError as e:
            self.fail(431 if str(e) == HEADER_OVERFLOW else 400)

    def fail(self, status):
        if self.closing:
            # Bytes after the answer that closed the connection: unread,
            # and not answered.
            self.linger = True
            return
        self.counters.requests += 1
        self.counters.errors += 1
        self.out.append(self.page.error(status))
        self.closing = self.linger = True

    # httptools' callbacks.

    def on_message_begin(self):
        if self.closing:
            # A request behind the one that closed the connection.
            self.linger = True
        self.url = b""
        self.head = 0
        self.hosts = 0
        self.partial = True

    def on_url(self, url):
        # http-parser hands the URL over in pieces as they arrive, so an
        # endless request line is refused before it is all read.
        self.url += url
        if len(self.url) > MAX_HEAD:
            raise Reject(414)

    def on_header(self, name, value):
        self.head += len(name) + len(value) + 4
        if self.head > MAX_HEAD:
            raise Reject(431)
        if len(name) == 4 and name.lower() == b"host":
            self.hosts += 1
        elif b" " in name or b"\t" in name:
            # http-parser, built lenient, takes whitespace before the colon
            # into the name; RFC 9112 §5.1 says to reject the request.
            raise Reject(400)

    def on_headers_complete(self):
        v = self.parser.get_http_version()
        if v == "1.1":
            self.minor = 1
        elif v == "1.0":
            self.minor = 0
        elif v[:2] == "1.":
            # RFC 9110 §6.2: a higher minor version is answered as 1.1.
            self.minor = 1
        elif v[:2] == "0.":
            # http-parser reads a request line without a version as
            # HTTP/0.9, which no server here speaks (RFC 9112 §3).
            raise Reject(400)
        else:
            raise Reject(505)
        # RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before.
        if self.hosts > 1 or (self.hosts == 0 and self.minor == 1):
            raise Reject(400)
        self.body = True

    def on_message_complete(self):
        self.partial = self.body = False
        if self.closing:
            return
        p = self.parser
        keep = p.should_keep_alive()
        status, answer = self.page.respond(p.get_method(), self.url, keep, self.minor, self.ip)
        c = self.counters
        c.requests += 1
        if status != 200:
            c.errors += 1
        self.out.append(answer)
        if not keep or self.page.close_after_response:
            self.closing = True
        elif status == 500:
            self.closing = self.linger = True


# RFC 9110 §5.6.2 tokens, and the bytes a field value or a target may not hold.
_token = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match
_bad_value = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search
_bad_target = re.compile(rb"[\x00-\x20\x7f]").search
_bare_cr = re.compile(rb"\r(?!\n)").finditer
# The largest Content-Length taken (the Go servers' maxContentLength, 2^40).
_MAX_LENGTH_DIGITS = 13


class PureExchange:
    """One connection's requests, parsed in plain Python by the Go servers'
    rules: CRLF line ends only, no obs-fold, no whitespace before a colon,
    one Host in HTTP/1.1, one Content-Length value, no Transfer-Encoding
    (501; with a Content-Length, 400)."""

    __slots__ = ("page", "counters", "ip", "buf", "discard", "closing", "linger", "held", "partial")

    def __init__(self, page, counters, ip):
        self.page = page
        self.counters = counters
        self.ip = ip
        self.buf = b""
        self.discard = 0
        self.closing = False
        self.linger = False
        # held: buf holds requests not answered for OUT_BOUND.
        self.held = False
        self.partial = False

    def feed(self, data):
        buf = self.buf + data if self.buf else data
        out = []
        pos = size = 0
        end_of_input = len(buf)
        self.held = False
        while True:
            if self.discard:
                k = min(end_of_input - pos, self.discard)
                pos += k
                self.discard -= k
                if self.discard:
                    break
            if pos == end_of_input:
                break
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                status = incomplete(buf, pos)
                if status:
                    self.fail(out, status)
                    return b"".join(out)
                break
            status, method, target, minor, keep, length = parse_head(buf, pos, end)
            if status != 200:
                self.fail(out, status)
                return b"".join(out)
            pos = end + 4
            status, answer = self.page.respond(method, target, keep, minor, self.ip)
            c = self.counters
            c.requests += 1
            if status != 200:
                c.errors += 1
            out.append(answer)
            self.discard = length
            if not keep or self.page.close_after_response or status == 500:
                # Nothing after a request that closes the connection is read.
                self.closing = True
                self.linger = status == 500 or pos < end_of_input
                self.buf = b""
                return b"".join(out)
            size += len(answer)
            if size >= OUT_BOUND and pos < end_of_input:
                self.held = True
                break
        self.buf = buf[pos:] if pos < end_of_input else b""
        self.partial = pos < end_of_input or self.discard > 0
        return b"".join(out)

    def fail(self, out, status):
        self.counters.requests += 1
        self.counters.errors += 1
        out.append(self.page.error(status))
        self.closing = self.linger = True
        self.buf = b""


def incomplete(buf, pos):
    """0 to wait for the rest of a head, or the status that refuses it
    now: a bare CR or LF in what has come (RFC 9112 §2.2: accepting a bare
    LF where a proxy in front does not is how requests get smuggled), or
    more than a head may hold."""
    pending = buf[pos:]
    crlf = pending.count(b"\r\n")
    if pending.count(b"\n") != crlf or pending.count(b"\r") - crlf > pending.endswith(b"\r"):
        return 400
    if len(pending) >= MAX_HEAD:
        # RFC 9112 §3: a request-line longer than the server parses is 414.
        return 431 if b"\n" in pending else 414
    return 0


def parse_head(buf, pos, end):
    """(status, method, target, minor, keep_alive, content_length) of the
    head buf[pos:end]; status is 200 or the error to answer."""
    bad = (400, None, None, 0, False, 0)
    head = buf[pos:end]
    lines = head.split(b"\r\n")
    if len(head) + 4 > MAX_HEAD:
        return ((414 if len(lines[0]) + 2 >= MAX_HEAD else 431),) + bad[1:]
    if b"\r" in head.replace(b"\r\n", b"") or b"\n" in head.replace(b"\r\n", b""):
        return bad
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return bad
    method, target, version = parts
    if not method or not _token(method) or not target or _bad_target(target):
        return bad
    if len(version) != 8 or version[:5] != b"HTTP/" or version[6:7] != b"." \
            or not version[5:6].isdigit() or not version[7:8].isdigit():
        return bad
    if version[5:6] != b"1":
        return (505,) + bad[1:]
    # RFC 9110 §6.2: a higher minor version is answered as 1.1.
    minor = 0 if version[7:8] == b"0" else 1
    hosts = 0
    length = None
    chunked = conn_close = conn_keep_alive = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # No colon, an empty name, obs-fold (a line starting with SP or
        # HTAB: RFC 9112 §5.2 lets a server reject it) or whitespace before
        # the colon (RFC 9112 §5.1).
        if not colon or not _token(name) or _bad_value(value):
            return bad
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            # RFC 9112 §6.3: an invalid length, or two that differ, cannot
            # be recovered from.
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                return bad
            n = int(value)
            if length is not None and n != length:
                return bad
            length = n
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"connection":
            for tok in value.lower().split(b","):
                tok = tok.strip(b" \t")
                if tok == b"close":
                    conn_close = True
                elif tok == b"keep-alive":
                    conn_keep_alive = True
    if chunked:
        # RFC 9112 §6.3 point 3: both is a smuggling attempt. Bodies are not
        # part of the benchmark; no server here decodes chunks.
        return bad if length is not None else (501,) + bad[1:]
    if hosts > 1 or (minor == 1 and hosts != 1):
        return bad
    keep = (conn_keep_alive and not conn_close) if minor == 0 else not conn_close
    return 200, method, target, minor, keep, length or 0
