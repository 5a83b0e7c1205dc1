"""The page and the answers of every Python server: the thread's Jinja2 page
(post #1: the client's IP and the time, 379 bytes; 3044 with the larger
template) and the error answers, byte for byte what sockbench's Go servers
send apart from the Server header.

The page's text is not copied here: it is read from the Go servers'
templates (servers/http1/*.html.tmpl) and their two fields are turned into
Jinja2 expressions, so both stacks always serve the same page.
"""

import os
import time

import jinja2

# The Go templates, and the Jinja2 expression each of their fields becomes.
TEMPLATES = {
    "small": "page.html.tmpl",
    "large": "page-large.html.tmpl",
}
GO_FIELDS = {"{{.ClientIP}}": "{{ client_ip }}", "{{.Time}}": "{{ time }}"}
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http1")

# How the page is made (--handler). The first three mean what they mean for
# the Go servers; enable-async is the thread's own mistake (post #5).
HANDLERS = ("static", "template", "template-reparse", "enable-async")

STATUS_TEXT = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


def jinja_source(body):
    """The Jinja2 text of the Go template for a body size."""
    with open(os.path.join(TEMPLATE_DIR, TEMPLATES[body]), encoding="utf-8") as f:
        src = f.read()
    for go, jinja in GO_FIELDS.items():
        src = src.replace(go, jinja)
    # Anything else between braces would render differently in Go and in
    # Jinja2: refuse it rather than serve another page.
    rest = src
    for jinja in GO_FIELDS.values():
        rest = rest.replace(jinja, "")
    for mark in ("{{", "{%", "{#"):
        if mark in rest:
            raise ValueError("page template %s: unsupported template syntax %r" % (TEMPLATES[body], mark))
    return src


def environment(enable_async=False):
    # keep_trailing_newline: Go's templates keep the final newline, and
    # Jinja2 drops it by default (one byte of the 379).
    return jinja2.Environment(keep_trailing_newline=True, enable_async=enable_async)


class Clock:
    """The current second, formatted once for every answer of that second,
    as the Go servers (and nginx) cache their Date header."""

    __slots__ = ("second", "date", "page_time")

    def __init__(self):
        self.second = -1
        self.tick()

    def tick(self):
        now = int(time.time())
        if now != self.second:
            t = time.gmtime(now)
            self.second = now
            # RFC 9110 §5.6.7 IMF-fixdate; %a and %b are English in the C
            # locale, which Python keeps unless told otherwise.
            self.date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", t).encode()
            self.page_time = time.strftime("%Y-%m-%d %H:%M:%S UTC", t)
        return self


class Page:
    """Makes every answer of one server."""

    def __init__(self, server_name, handler="template", body="small", close_after_response=False):
        if handler not in HANDLERS:
            raise ValueError("unknown handler %r (handlers: %s)" % (handler, ", ".join(HANDLERS)))
        self.handler = handler
        self.close_after_response = close_after_response
        self.source = jinja_source(body)
        self.clock = Clock()
        self.server_line = b"Server: " + server_name.encode() + b"\r\n"
        self.head200 = b"HTTP/1.1 200 OK\r\n" + self.server_line + b"Content-Type: text/html; charset=utf-8\r\nDate: "
        self.template = environment(handler == "enable-async").from_string(self.source)
        self.static = None
        if handler == "static":
            # Rendered once, for a loopback client, so it is as long as the
            # template handler's page in a loopback benchmark.
            self.static = self.render("127.0.0.1", self.clock.tick().page_time)

    def render(self, ip, page_time):
        if self.handler == "template-reparse":
            # Parsed and compiled for every request: what Go's
            # template-reparse does with html/template.
            return environment().from_string(self.source).render(client_ip=ip, time=page_time).encode()
        # With enable-async, Jinja2's render() starts an asyncio event loop
        # for every call and runs render_async on it (post #5).
        return self.template.render(client_ip=ip, time=page_time).encode()

    def respond(self, method, target, keep_alive, minor, ip):
        """The status and the answer to a parsed request: the page for GET
        and HEAD of /, 404 for other paths, 405 for other methods, and 500,
        which closes the connection, if the page cannot be made."""
        if not (target == b"/" or is_root(target)):
            return 404, self.status(404, keep_alive, minor)
        head = method == b"HEAD"
        if method != b"GET" and not head:
            return 405, self.status(405, keep_alive, minor)
        clock = self.clock.tick()
        if self.static is not None:
            body = self.static
        else:
            try:
                body = self.render(ip, clock.page_time)
            except Exception:
                # As the Go servers answer a template that fails to execute.
                return 500, self.status(500, False, minor)
        out = b"%s%s\r\nContent-Length: %d%s\r\n\r\n" % (
            self.head200, clock.date, len(body), connection_header(keep_alive, minor))
        if head:
            return 200, out
        return 200, out + body

    def error(self, code):
        """An error answer that closes the connection: after a malformed
        request the server cannot know where the next one starts."""
        return self.status(code, False, 1)

    def status(self, code, keep_alive, minor):
        text = STATUS_TEXT[code].encode()
        allow = b"\r\nAllow: GET, HEAD" if code == 405 else b""
        return b"HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\nDate: %s%s\r\nContent-Length: %d%s\r\n\r\n%s\n" % (
            code, text, self.server_line, self.clock.tick().date, allow, len(text) + 1,
            connection_header(keep_alive, minor), text)


def connection_header(keep_alive, minor):
    """The Connection header where the default does not already say what
    will happen: close on 1.1, keep-alive on 1.0 (RFC 9112 §9.3)."""
    if not keep_alive:
        return b"\r\nConnection: close"
    if minor == 0:
        return b"\r\nConnection: keep-alive"
    return b""


def is_root(t):
    """Whether a request target names "/", in origin form ("/", "/?q") or
    absolute form ("http://host/", RFC 9112 §3.2.2)."""
    if len(t) > 7 and t[:7] == b"http://":
        t = t[7:]
        i = 0
        while i < len(t) and t[i] not in b"/?":
            i += 1
        t = t[i:]
        if not t:
            return True
    return len(t) > 0 and t[:1] == b"/" and (len(t) == 1 or t[1:2] == b"?")
