package loadgen

import (
	"bytes"
	"errors"
	"fmt"
)

// maxResponseHead bounds what a connection buffers of a response head (or a
// chunk-size or trailer line), so a server that never ends its head cannot
// grow the generator's memory.
const maxResponseHead = 64 << 10

// parseState is the part of a response the parser expects next.
type parseState uint8

const (
	// readingHead: a status line and headers.
	readingHead parseState = iota
	// readingBody: the rest of a Content-Length body (left bytes).
	readingBody
	// readingChunkSize: a chunk-size line of a chunked body.
	readingChunkSize
	// readingChunkData: the rest of a chunk (left bytes).
	readingChunkData
	// readingChunkEnd: the CRLF after a chunk (left bytes).
	readingChunkEnd
	// readingTrailer: trailer lines, up to the empty one.
	readingTrailer
	// readingUntilEOF: a body without length, delimited by the close.
	readingUntilEOF
)

// respParser reads HTTP/1.1 responses from a byte stream, in whatever
// pieces the reads deliver them. It keeps bytes only while a head or a
// chunk line is incomplete; bodies are counted, never copied.
type respParser struct {
	carry  []byte
	state  parseState
	left   int64
	noBody bool // answers to HEAD requests have none
	// lineChecked says the status line of the head in carry has been
	// checked already, before the rest of the head arrived.
	lineChecked bool

	// Of the response being read:
	status int
	close  bool
	size   int
}

// next consumes the start of p. It returns how many bytes it used and
// whether they completed a response; the response's status, size and
// whether the server will close are then in the parser's fields until the
// next call. An error means the stream is not HTTP/1.1 and the connection
// must be dropped.
func (r *respParser) next(p []byte) (int, bool, error) {
	if r.state == readingHead && len(r.carry) == 0 {
		r.size = 0
	}
	switch r.state {
	case readingHead:
		before := len(r.carry)
		line, n, ok, err := r.upTo(p, "\r\n\r\n")
		r.size += n
		if err != nil {
			return n, false, err
		}
		if !ok {
			return n, false, r.checkHeadStart(before)
		}
		r.lineChecked = false
		if err := r.parseHead(line); err != nil {
			if err == errInterim {
				return n, false, nil
			}
			return n, false, err
		}
		return n, r.state == readingHead, nil
	case readingBody, readingChunkData, readingChunkEnd:
		n := int(min(int64(len(p)), r.left))
		r.left -= int64(n)
		r.size += n
		if r.left > 0 {
			return n, false, nil
		}
		switch r.state {
		case readingBody:
			r.state = readingHead
			return n, true, nil
		case readingChunkData:
			r.state, r.left = readingChunkEnd, 2
		default:
			r.state = readingChunkSize
		}
		return n, false, nil
	case readingChunkSize:
		line, n, ok, err := r.upTo(p, "\r\n")
		r.size += n
		if !ok || err != nil {
			return n, false, err
		}
		size, err := chunkSize(line)
		if err != nil {
			return n, false, err
		}
		if size == 0 {
			r.state = readingTrailer
		} else {
			r.state, r.left = readingChunkData, size
		}
		return n, false, nil
	case readingTrailer:
		line, n, ok, err := r.upTo(p, "\r\n")
		r.size += n
		if !ok || err != nil {
			return n, false, err
		}
		if len(line) == 2 {
			r.state = readingHead
			return n, true, nil
		}
		return n, false, nil
	default: // readingUntilEOF: everything belongs to the body
		r.size += len(p)
		return len(p), false, nil
	}
}

// between reports whether the parser is between responses: no byte of a
// next one has arrived.
func (r *respParser) between() bool { return r.state == readingHead && len(r.carry) == 0 }

// eof reports whether the connection's end completes the response being
// read (a body delimited by the close), and resets the parser.
func (r *respParser) eof() bool {
	complete := r.state == readingUntilEOF
	r.state, r.carry, r.left, r.lineChecked = readingHead, r.carry[:0], 0, false
	return complete
}

// checkHeadStart checks the part of a head that has arrived (in carry; the
// first before bytes of it were there already), so that a peer that is no
// HTTP server (an SSH banner, TLS, anything) is a malformed response at
// once rather than a timeout: the start must be "HTTP/1.0 " or "HTTP/1.1 "
// as far as it goes, and a complete status line must be one. Only heads
// split across reads come here, and each byte is looked at once.
func (r *respParser) checkHeadStart(before int) error {
	b := r.carry
	for i := before; i < min(len(b), len(versionSP)); i++ {
		if b[i] != versionSP[i] && !(i == 7 && b[i] == '0') {
			why := "version is not HTTP/1.0 or HTTP/1.1"
			if i == 8 {
				why = "want a single space around a three-digit status code"
			}
			return statusLineError(b, why)
		}
	}
	if r.lineChecked {
		return nil
	}
	eol := bytes.Index(b[max(before-1, 0):], []byte("\r\n"))
	if eol < 0 {
		return nil
	}
	r.lineChecked = true
	_, _, err := parseStatusLine(b[:max(before-1, 0)+eol])
	return err
}

// versionSP is how a status line starts ("HTTP/1.0 " too).
const versionSP = "HTTP/1.1 "

// parseStatusLine reads status-line = HTTP-version SP status-code SP
// [ reason-phrase ] (RFC 9112 §4), of HTTP/1.0 or HTTP/1.1, and says in
// the words of `sockbench verify` what is wrong with one that is not.
func parseStatusLine(sl []byte) (status int, http10 bool, err error) {
	switch {
	case len(sl) >= 8 && !bytes.Equal(sl[:8], []byte("HTTP/1.1")) && !bytes.Equal(sl[:8], []byte("HTTP/1.0")),
		len(sl) < 8 && !bytes.HasPrefix([]byte("HTTP/1.1"), sl) && !bytes.HasPrefix([]byte("HTTP/1.0"), sl):
		return 0, false, statusLineError(sl, "version is not HTTP/1.0 or HTTP/1.1")
	case len(sl) < 12:
		return 0, false, statusLineError(sl, "too short")
	case sl[8] != ' ' || len(sl) > 12 && sl[12] != ' ':
		return 0, false, statusLineError(sl, "want a single space around a three-digit status code")
	}
	for _, c := range sl[9:12] {
		if c < '0' || c > '9' {
			return 0, false, statusLineError(sl, "status code is not three digits")
		}
		status = status*10 + int(c-'0')
	}
	return status, sl[7] == '0', nil
}

func statusLineError(sl []byte, why string) error {
	if eol := bytes.Index(sl, []byte("\r\n")); eol >= 0 {
		sl = sl[:eol]
	}
	return fmt.Errorf("status line %q: %s", clip(sl), why)
}

// upTo returns the bytes up to and including sep, joining them with what
// earlier reads left; ok is false when p ends first (its bytes are kept).
func (r *respParser) upTo(p []byte, sep string) (line []byte, n int, ok bool, err error) {
	if len(r.carry) == 0 {
		if i := bytes.Index(p, []byte(sep)); i >= 0 && i+len(sep) <= maxResponseHead {
			return p[:i+len(sep)], i + len(sep), true, nil
		}
	} else {
		// Search from where the separator could first complete; the
		// line aliases carry, which is only appended to again after the
		// caller is done with it.
		from := max(0, len(r.carry)-len(sep)+1)
		old := len(r.carry)
		r.carry = append(r.carry, p...)
		if i := bytes.Index(r.carry[from:], []byte(sep)); i >= 0 {
			end := from + i + len(sep)
			line := r.carry[:end]
			r.carry = r.carry[:0]
			return line, end - old, true, nil
		}
		r.carry = r.carry[:old]
	}
	if len(r.carry)+len(p) > maxResponseHead {
		return nil, len(p), false, fmt.Errorf("response head or chunk line longer than %d bytes", maxResponseHead)
	}
	r.carry = append(r.carry, p...)
	return nil, len(p), false, nil
}

// parseHead reads a status line and headers and sets up the body's state.
func (r *respParser) parseHead(head []byte) error {
	eol := bytes.Index(head, []byte("\r\n"))
	status, http10, err := parseStatusLine(head[:eol])
	if err != nil {
		return err
	}
	r.status = status
	r.close = http10
	length, chunked, sawLength := int64(0), false, false
	for rest := head[eol+2 : len(head)-2]; len(rest) > 0; {
		eol := bytes.Index(rest, []byte("\r\n"))
		line := rest[:eol]
		rest = rest[eol+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fmt.Errorf("malformed header line %q", clip(line))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := parseDecimal(value)
			if !ok || sawLength && n != length {
				return fmt.Errorf("invalid Content-Length %q", clip(value))
			}
			length, sawLength = n, true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return fmt.Errorf("unsupported Transfer-Encoding %q", clip(value))
			}
		case bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				r.close = true
			case bytes.EqualFold(value, []byte("keep-alive")):
				r.close = false
			}
		}
	}
	switch {
	case status < 200:
		// An interim answer: the real one follows.
	case r.noBody || status == 204 || status == 304:
	case chunked:
		r.state = readingChunkSize
	case sawLength && length > 0:
		r.state, r.left = readingBody, length
	case !sawLength:
		r.state, r.close = readingUntilEOF, true
	}
	if status < 200 {
		r.size = 0
		return errInterim
	}
	return nil
}

// errInterim marks a 1xx answer, skipped like wrk does; next treats it as
// "no response completed yet".
var errInterim = errors.New("interim response")

func chunkSize(line []byte) (int64, error) {
	hex := line[:len(line)-2]
	if i := bytes.IndexByte(hex, ';'); i >= 0 {
		hex = hex[:i]
	}
	hex = bytes.TrimSpace(hex)
	if len(hex) == 0 || len(hex) > 15 {
		return 0, fmt.Errorf("malformed chunk size %q", clip(line))
	}
	var n int64
	for _, c := range hex {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("malformed chunk size %q", clip(line))
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
