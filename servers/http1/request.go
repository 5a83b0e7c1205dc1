// Package http1 is the HTTP/1.1 code every sockbench server except nethttp
// shares: a strict, allocation-free request parser, the page handlers, and a
// per-connection responder that turns request bytes into response bytes.
// Only the I/O differs between the servers, so the comparison measures I/O
// models and nothing else.
package http1

import (
	"bytes"
)

// Request is a parsed request head. Its byte slices point into the buffer
// passed to ParseRequest and are valid until that buffer is reused.
type Request struct {
	Method []byte
	Target []byte
	// Minor is the x of HTTP/1.x.
	Minor int
	// KeepAlive is the connection's fate after this request: HTTP/1.1
	// defaults to persistent, HTTP/1.0 to close (RFC 9112 §9.3).
	KeepAlive bool
	// ContentLength is the body length; the body follows the head.
	ContentLength int64
}

// Parse outcomes other than a complete request are HTTP status codes, so the
// caller answers with exactly what the parser found wrong.
const (
	// StatusIncomplete: the head has not fully arrived yet.
	StatusIncomplete = 0
	// StatusOK: a complete, valid head.
	StatusOK = 200
)

// maxContentLength bounds a declared body; larger values are treated as
// invalid rather than risking overflow in the discard counter.
const maxContentLength = 1 << 40

// ParseRequest parses one request head at the start of buf. It returns the
// head's length and StatusOK, StatusIncomplete (n is 0), or the 4xx/5xx
// status to answer with. Malformed input is rejected as soon as the bad line
// is complete, so a client that sends garbage without ever ending its head
// is answered instead of waiting for more.
func ParseRequest(buf []byte, req *Request) (n int, status int) {
	*req = Request{}
	line, rest, ok := nextLine(buf, 0)
	if !ok {
		if len(buf) >= MaxHeadBytes {
			// RFC 9112 §3: a request-line longer than any URI the server
			// parses is 414, not a header problem.
			return 0, 414
		}
		return 0, StatusIncomplete
	}
	if line == nil {
		return 0, 400
	}
	if st := parseRequestLine(buf[:rest-2], req); st != StatusOK {
		return 0, st
	}
	var hosts, lengths int
	connClose, connKeepAlive, chunked := false, false, false
	for {
		start := rest
		line, rest, ok = nextLine(buf, start)
		if !ok {
			// The limit is on the whole head, not the line being read.
			return 0, incomplete(buf)
		}
		if line == nil {
			return 0, 400
		}
		if len(line) == 0 {
			break
		}
		if rest > MaxHeadBytes {
			return 0, 431
		}
		name, value, st := splitHeader(line)
		if st != StatusOK {
			return 0, st
		}
		switch {
		case equalFold(name, "host"):
			hosts++
		case equalFold(name, "content-length"):
			cl, ok := parseContentLength(value)
			// RFC 9112 §6.3: differing or invalid lengths are unrecoverable.
			if !ok || (lengths > 0 && cl != req.ContentLength) {
				return 0, 400
			}
			req.ContentLength = cl
			lengths++
		case equalFold(name, "transfer-encoding"):
			chunked = true
		case equalFold(name, "connection"):
			forEachToken(value, func(tok []byte) {
				if equalFold(tok, "close") {
					connClose = true
				} else if equalFold(tok, "keep-alive") {
					connKeepAlive = true
				}
			})
		}
	}
	switch {
	case chunked && lengths > 0:
		// RFC 9112 §6.3 point 3: both present is a smuggling attempt.
		return 0, 400
	case chunked:
		// Bodies are not part of the benchmark; no server here decodes chunks.
		return 0, 501
	case req.Minor == 1 && hosts != 1:
		// RFC 9112 §3.2: exactly one Host in HTTP/1.1.
		return 0, 400
	case hosts > 1:
		return 0, 400
	}
	if req.Minor == 0 {
		req.KeepAlive = connKeepAlive && !connClose
	} else {
		req.KeepAlive = !connClose
	}
	return rest, StatusOK
}

// incomplete decides between "wait for more" and 431 once the head can no
// longer fit the connection's buffer.
func incomplete(pending []byte) int {
	if len(pending) >= MaxHeadBytes {
		return 431
	}
	return StatusIncomplete
}

// MaxHeadBytes is the largest request head the servers buffer.
const MaxHeadBytes = 8 << 10

// nextLine returns the line starting at off (without CRLF) and the offset
// after its CRLF. ok is false when no LF has arrived yet; line is nil (with ok
// true) when the line is malformed: a bare LF or a CR not followed by LF.
// RFC 9112 §2.2 lets a recipient accept a bare LF, but accepting it while a
// proxy in front does not is how requests get smuggled, so it is refused.
func nextLine(buf []byte, off int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(buf[off:], '\n')
	if i < 0 {
		if j := bytes.IndexByte(buf[off:], '\r'); j >= 0 && j+1 < len(buf)-off {
			return nil, 0, true // CR followed by something other than LF
		}
		return nil, 0, false
	}
	end := off + i
	if i == 0 || buf[end-1] != '\r' {
		return nil, 0, true
	}
	line = buf[off : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, true
	}
	return line, end + 1, true
}

func parseRequestLine(line []byte, req *Request) int {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 400
	}
	req.Method = line[:sp]
	for _, c := range req.Method {
		if !isTokenChar(c) {
			return 400
		}
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return 400
	}
	req.Target = rest[:sp]
	for _, c := range req.Target {
		if c <= ' ' || c == 0x7f {
			return 400
		}
	}
	version := rest[sp+1:]
	if len(version) != 8 || string(version[:5]) != "HTTP/" || version[6] != '.' ||
		!isDigit(version[5]) || !isDigit(version[7]) {
		return 400
	}
	if version[5] != '1' {
		return 505
	}
	// RFC 9110 §6.2: a higher minor version is answered as the highest we speak.
	req.Minor = 1
	if version[7] == '0' {
		req.Minor = 0
	}
	return StatusOK
}

func splitHeader(line []byte) (name, value []byte, status int) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		// Includes obs-fold (a line starting with SP or HTAB), which
		// RFC 9112 §5.2 lets a server reject with 400.
		return nil, nil, 400
	}
	name = line[:colon]
	for _, c := range name {
		// Whitespace before the colon is forbidden (RFC 9112 §5.1).
		if !isTokenChar(c) {
			return nil, nil, 400
		}
	}
	value = line[colon+1:]
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, 400
		}
	}
	return name, trimOWS(value), StatusOK
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
		if n > maxContentLength {
			return 0, false
		}
	}
	return n, true
}

// forEachToken calls f for each comma-separated element of a list header.
func forEachToken(v []byte, f func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		if tok = trimOWS(tok); len(tok) > 0 {
			f(tok)
		}
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with a lower-case ASCII string, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenChars marks the tchar set of RFC 9110 §5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTokenChar(c byte) bool { return tokenChars[c] }
