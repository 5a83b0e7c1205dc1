package main

import (
	"bytes"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sockbench/sockbench/bench/peers/page"
)

// maxHead is the largest request head accepted: nginx's default
// large_client_header_buffers is 8k too.
const maxHead = 8 << 10

var (
	crlfcrlf = []byte("\r\n\r\n")
	crlf     = []byte("\r\n")

	head200 = []byte("HTTP/1.1 200 OK\r\nServer: gnet\r\nContent-Type: " + page.ContentType +
		"\r\nContent-Length: " + strconv.Itoa(len(page.Body)) + "\r\nDate: ")
	connClose = []byte("Connection: close\r\n")
)

// respond answers every complete request head at the start of in, appending
// the responses to out. It returns how many bytes of in it used — an
// incomplete head stays in gnet's buffer until more bytes arrive — and
// whether the connection must be closed after out is written.
//
// Only what a benchmark sends is served: GET or HEAD of /, no request body.
// Anything it cannot frame (another method, a body, an oversized head) is
// answered with an error and a close, since the rest of the stream could not
// be parsed reliably.
func respond(out, in, date []byte) (used int, _ []byte, closeConn bool) {
	for {
		rest := in[used:]
		end := bytes.Index(rest, crlfcrlf)
		if end < 0 {
			if len(rest) > maxHead {
				return len(in), appendError(out, date, 431, "Request Header Fields Too Large", true), true
			}
			return used, out, false
		}
		head := rest[:end+2] // keep the last header's CRLF
		used += end + len(crlfcrlf)

		line, headers, _ := bytes.Cut(head, crlf)
		method, target, version, ok := splitRequestLine(line)
		switch {
		case !ok:
			return used, appendError(out, date, 400, "Bad Request", true), true
		case !bytes.Equal(method, []byte("GET")) && !bytes.Equal(method, []byte("HEAD")):
			return used, appendError(out, date, 405, "Method Not Allowed", true), true
		case hasBody(headers):
			return used, appendError(out, date, 400, "Bad Request", true), true
		}
		// HTTP/1.0 closes unless asked not to; HTTP/1.1 keeps the
		// connection unless asked to close (RFC 9112 §9.3).
		closeConn = bytes.Equal(version, []byte("HTTP/1.0"))
		if v, ok := headerValue(headers, "connection"); ok {
			switch {
			case bytes.EqualFold(v, []byte("close")):
				closeConn = true
			case bytes.EqualFold(v, []byte("keep-alive")):
				closeConn = false
			}
		}
		if !bytes.Equal(target, []byte("/")) {
			out = appendError(out, date, 404, "Not Found", closeConn)
		} else {
			out = append(out, head200...)
			out = append(out, date...)
			out = append(out, crlf...)
			if closeConn {
				out = append(out, connClose...)
			}
			out = append(out, crlf...)
			if method[0] == 'G' {
				out = append(out, page.Body...)
			}
		}
		if closeConn {
			return used, out, true
		}
	}
}

func splitRequestLine(line []byte) (method, target, version []byte, ok bool) {
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || !bytes.HasPrefix(version, []byte("HTTP/1.")) || len(version) != 8 {
		return nil, nil, nil, false
	}
	return method, target, version, true
}

// hasBody reports a request that announces a body this server would not
// read past.
func hasBody(headers []byte) bool {
	if _, ok := headerValue(headers, "transfer-encoding"); ok {
		return true
	}
	v, ok := headerValue(headers, "content-length")
	return ok && !bytes.Equal(v, []byte("0"))
}

// headerValue finds a header by lower-case name in CRLF-separated lines.
func headerValue(headers []byte, name string) ([]byte, bool) {
	for len(headers) > 0 {
		var line []byte
		line, headers, _ = bytes.Cut(headers, crlf)
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return bytes.TrimSpace(v), true
		}
	}
	return nil, false
}

func appendError(out, date []byte, code int, reason string, closeConn bool) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, reason...)
	out = append(out, "\r\nServer: gnet\r\nContent-Length: 0\r\nDate: "...)
	out = append(out, date...)
	out = append(out, crlf...)
	if closeConn {
		out = append(out, connClose...)
	}
	return append(out, crlf...)
}

// clock formats the Date header once per second, as nginx and fasthttp do;
// any event loop may call it.
type clock struct{ cur atomic.Pointer[stamp] }

type stamp struct {
	unix int64
	date []byte
}

func (c *clock) date() []byte {
	now := time.Now()
	if s := c.cur.Load(); s != nil && s.unix == now.Unix() {
		return s.date
	}
	s := &stamp{unix: now.Unix(), date: []byte(now.UTC().Format(http.TimeFormat))}
	c.cur.Store(s)
	return s.date
}
