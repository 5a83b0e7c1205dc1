package verify

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Limits of the response reader. A server under test may send anything, so
// every read is bounded; the limits are far above what any sockbench page
// needs and only stop a runaway server from filling memory.
const (
	maxResponseHead    = 64 << 10
	maxResponseHeaders = 128
	maxResponseBody    = 4 << 20
	// maxInterim bounds the 1xx responses skipped before a final one.
	maxInterim = 4
)

// response is one HTTP/1.x response as it came off the wire.
type response struct {
	statusLine string
	status     int
	// header holds the fields under their lower-cased names, in arrival
	// order within a name.
	header map[string][]string
	body   []byte
	// untilClose says the body was delimited by the server closing the
	// connection (RFC 9112 §6.3 rule 8): the connection is gone.
	untilClose bool
}

// field returns the first value of the named field and whether it was present.
func (r *response) field(name string) (string, bool) {
	v, ok := r.header[strings.ToLower(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// hasToken reports whether a comma-separated field (Connection) lists token,
// compared case-insensitively as RFC 9110 §7.6.1 says.
func (r *response) hasToken(name, token string) bool {
	for _, v := range r.header[strings.ToLower(name)] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// readError says why no complete response could be read. kind is what a
// person reading the report needs first ("timeout", "connection closed",
// "connection reset", "malformed response"); partial says some bytes of a
// response had already arrived, which turns a clean close into a truncation.
type readError struct {
	kind    string
	detail  string
	partial bool
	// line holds the bytes of an unfinished head line, when the error cut
	// one short.
	line []byte
	// statusLine is the response's status line when the error came after
	// it, so the report can show which response broke off.
	statusLine string
	err        error
}

func (e *readError) Error() string {
	msg := e.kind
	if e.partial && e.kind != kindMalformed {
		msg += " in the middle of a response"
	}
	if e.detail != "" {
		msg += " (" + e.detail + ")"
	}
	return msg
}

func (e *readError) Unwrap() error { return e.err }

// The kinds of readError.
const (
	kindTimeout   = "timeout"
	kindClosed    = "connection closed"
	kindReset     = "connection reset"
	kindMalformed = "malformed response"
)

// ioKind names what an I/O error means for the case: the deadline passed,
// the server closed (FIN) or aborted (RST) the connection, or something else.
func ioKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return kindClosed
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kindReset
	default:
		return "read error: " + err.Error()
	}
}

// isGone reports whether err means the server ended the connection, by
// either FIN or RST. A server that closes with unread request bytes in its
// socket makes the kernel send RST instead of FIN, so after a complete
// response both count as "the server closed".
func isGone(err error) bool {
	k := ioKind(err)
	return k == kindClosed || k == kindReset
}

func ioError(err error, partial bool, detail string) *readError {
	return &readError{kind: ioKind(err), detail: detail, partial: partial, err: err}
}

func malformed(format string, args ...any) *readError {
	return &readError{kind: kindMalformed, detail: fmt.Sprintf(format, args...), partial: true}
}

// readResponse reads one final response, skipping up to maxInterim 1xx
// interim responses (none of the cases asks for one, but a server may send
// them). Interim status lines are returned too, for the report.
func readResponse(br *bufio.Reader) (*response, []string, error) {
	var interim []string
	for {
		r, err := readOne(br)
		if err != nil {
			return nil, interim, err
		}
		if r.status >= 200 || r.status == 101 {
			return r, interim, nil
		}
		interim = append(interim, r.statusLine)
		if len(interim) > maxInterim {
			return nil, interim, malformed("more than %d interim 1xx responses", maxInterim)
		}
	}
}

func readOne(br *bufio.Reader) (*response, error) {
	r, err := readHeadAndBody(br)
	var re *readError
	if err != nil && r != nil && errors.As(err, &re) {
		re.statusLine = r.statusLine
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readHeadAndBody reads one response; on an error after the status line it
// still returns the response read so far.
func readHeadAndBody(br *bufio.Reader) (*response, error) {
	budget := maxResponseHead
	line, err := readLine(br, &budget, false)
	if err != nil {
		// Bytes that end without ever forming a status line are most
		// likely an HTTP/0.9-style answer: the body alone, then a close.
		var re *readError
		if errors.As(err, &re) && re.kind == kindClosed && len(re.line) > 0 && !looksLikeVersion(re.line) {
			return nil, malformed("no status line, only %s then a close: an HTTP/0.9-style answer", quoteTrunc(re.line, maxShown))
		}
		return nil, err
	}
	status, err := parseStatusLine(line)
	if err != nil {
		return nil, err
	}
	r := &response{statusLine: line, status: status, header: map[string][]string{}}
	for n := 0; ; n++ {
		line, err := readLine(br, &budget, true)
		if err != nil {
			return r, err
		}
		if line == "" {
			break
		}
		if n == maxResponseHeaders {
			return r, malformed("more than %d header fields", maxResponseHeaders)
		}
		name, value, err := parseField(line)
		if err != nil {
			return r, err
		}
		r.header[name] = append(r.header[name], value)
	}
	if err := readBody(br, r); err != nil {
		return r, err
	}
	return r, nil
}

// readLine reads one CRLF-terminated line of a response head and returns it
// without the CRLF. The head as a whole may not exceed budget bytes. A
// response is held to the grammar a client may rely on: a bare LF or a bare
// CR inside a line is a malformed response, not a tolerated variant, since
// the server's own output is what verify judges.
func readLine(br *bufio.Reader, budget *int, started bool) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > *budget {
			return "", malformed("response head longer than %d bytes", maxResponseHead)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		detail := ""
		if len(line) > 0 {
			detail = "after " + quoteTrunc(line, maxShown)
		}
		re := ioError(err, started || len(line) > 0, detail)
		re.line = line
		return "", re
	}
	*budget -= len(line)
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", malformed("line ends in a bare LF: %s", quoteTrunc(line, maxShown))
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if c == '\r' {
			return "", malformed("bare CR inside a line: %s", quoteTrunc(line, maxShown))
		}
	}
	return string(line), nil
}

// looksLikeVersion reports whether b could be the start of "HTTP/1.x".
func looksLikeVersion(b []byte) bool {
	const v = "HTTP/1."
	n := min(len(b), len(v))
	return string(b[:n]) == v[:n]
}

// parseStatusLine checks status-line = HTTP-version SP status-code SP
// [ reason-phrase ] (RFC 9112 §4). Only HTTP/1.0 and HTTP/1.1 are
// accepted: the cases only send those, and a server answers in its own
// major version.
func parseStatusLine(line string) (int, error) {
	bad := func(why string) error {
		return malformed("status line %s: %s", quoteTrunc([]byte(line), maxShown), why)
	}
	if len(line) < len("HTTP/1.1 200 ") {
		return 0, bad("too short")
	}
	if v := line[:8]; v != "HTTP/1.1" && v != "HTTP/1.0" {
		return 0, bad("version is not HTTP/1.0 or HTTP/1.1")
	}
	if line[8] != ' ' || line[12] != ' ' {
		return 0, bad("want a single space around a three-digit status code")
	}
	code := line[9:12]
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			return 0, bad("status code is not three digits")
		}
	}
	status, _ := strconv.Atoi(code)
	if status < 100 || status > 599 {
		return 0, bad("status code out of range")
	}
	for _, c := range []byte(line[13:]) {
		if !fieldValueByte(c) {
			return 0, bad("control character in the reason phrase")
		}
	}
	return status, nil
}

// parseField splits a field line into its lower-cased name and its value
// with optional whitespace trimmed (RFC 9112 §5).
func parseField(line string) (string, string, error) {
	if line[0] == ' ' || line[0] == '\t' {
		// RFC 9112 §5.2: a server MUST NOT generate obs-fold.
		return "", "", malformed("obsolete line folding: %s", quoteTrunc([]byte(line), maxShown))
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", malformed("header line without a colon: %s", quoteTrunc([]byte(line), maxShown))
	}
	if name == "" {
		return "", "", malformed("empty header name: %s", quoteTrunc([]byte(line), maxShown))
	}
	for _, c := range []byte(name) {
		if !tokenByte(c) {
			return "", "", malformed("invalid header name %s", quoteTrunc([]byte(name), maxShown))
		}
	}
	value = strings.Trim(value, " \t")
	for _, c := range []byte(value) {
		if !fieldValueByte(c) {
			return "", "", malformed("control character in the value of %s", name)
		}
	}
	return strings.ToLower(name), value, nil
}

// readBody reads the body framed as RFC 9112 §6.3 orders the rules for a
// response to a request that was not HEAD.
func readBody(br *bufio.Reader, r *response) error {
	if r.status < 200 || r.status == 204 || r.status == 304 {
		return nil
	}
	te, hasTE := r.header["transfer-encoding"]
	cl, hasCL := r.header["content-length"]
	switch {
	case hasTE && hasCL:
		// RFC 9112 §6.2: a sender MUST NOT send Content-Length with
		// Transfer-Encoding.
		return malformed("both Transfer-Encoding and Content-Length")
	case hasTE:
		codings := strings.Split(strings.Join(te, ","), ",")
		if !strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked") {
			return readUntilClose(br, r)
		}
		return readChunked(br, r)
	case hasCL:
		n, err := parseContentLength(cl)
		if err != nil {
			return err
		}
		r.body = make([]byte, n)
		if got, err := io.ReadFull(br, r.body); err != nil {
			return ioError(err, true, fmt.Sprintf("body: got %d of %d bytes", got, n))
		}
		return nil
	default:
		return readUntilClose(br, r)
	}
}

// parseContentLength accepts one decimal value, or several identical ones
// (RFC 9112 §6.3 rule 5 lets a recipient treat those as one).
func parseContentLength(values []string) (int, error) {
	first := strings.TrimSpace(values[0])
	for _, v := range values[1:] {
		if strings.TrimSpace(v) != first {
			return 0, malformed("conflicting Content-Length values %q", values)
		}
	}
	if first == "" || len(first) > 12 {
		return 0, malformed("invalid Content-Length %q", first)
	}
	for _, c := range []byte(first) {
		if c < '0' || c > '9' {
			return 0, malformed("invalid Content-Length %q", first)
		}
	}
	n, _ := strconv.Atoi(first)
	if n > maxResponseBody {
		return 0, malformed("Content-Length %d is larger than verify reads (%d)", n, maxResponseBody)
	}
	return n, nil
}

func readUntilClose(br *bufio.Reader, r *response) error {
	body, err := io.ReadAll(io.LimitReader(br, maxResponseBody+1))
	if err != nil && !isGone(err) {
		return ioError(err, true, fmt.Sprintf("body without Content-Length: the server had sent %d bytes and not closed", len(body)))
	}
	if len(body) > maxResponseBody {
		return malformed("body without Content-Length longer than %d bytes", maxResponseBody)
	}
	r.body, r.untilClose = body, true
	return nil
}

// readChunked decodes chunked transfer coding (RFC 9112 §7.1), trailers
// included, so a server that frames an error page that way is read right.
func readChunked(br *bufio.Reader, r *response) error {
	budget := maxResponseHead
	var body []byte
	for {
		line, err := readLine(br, &budget, true)
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(line, ";")
		size = strings.TrimRight(size, " \t")
		if size == "" || len(size) > 8 {
			return malformed("invalid chunk size line %q", line)
		}
		n, err := strconv.ParseUint(size, 16, 32)
		if err != nil {
			return malformed("invalid chunk size line %q", line)
		}
		if n == 0 {
			break
		}
		if len(body)+int(n) > maxResponseBody {
			return malformed("chunked body longer than %d bytes", maxResponseBody)
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if got, err := io.ReadFull(br, body[start:]); err != nil {
			return ioError(err, true, fmt.Sprintf("chunk: got %d of %d bytes", got, n))
		}
		end, err := readLine(br, &budget, true)
		if err != nil {
			return err
		}
		if end != "" {
			return malformed("chunk data longer than its size %d", n)
		}
	}
	for {
		line, err := readLine(br, &budget, true)
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if _, _, err := parseField(line); err != nil {
			return err
		}
	}
	r.body = body
	return nil
}

// tokenByte reports whether c may appear in a token (RFC 9110 §5.6.2).
func tokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// fieldValueByte reports whether c may appear in a field value or reason
// phrase: HTAB, SP, VCHAR or obs-text (RFC 9110 §5.5).
func fieldValueByte(c byte) bool {
	return c == '\t' || (c >= ' ' && c != 0x7f)
}
