package verify

import (
	"bufio"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		// status and body of a good response; kind of the error otherwise.
		status     int
		body       string
		untilClose bool
		kind       string
		errHas     string
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, body: "hello"},
		{name: "empty-reason", in: "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", status: 404},
		{name: "http10", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", status: 200, body: "hi"},
		{name: "same-length-twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", status: 200, body: "hi"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n", status: 200, body: "hello!"},
		{name: "until-close", in: "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request", status: 400, body: "400 Bad Request", untilClose: true},
		{name: "no-body-204", in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204},
		{name: "interim-skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200},

		{name: "nothing", in: "", kind: kindClosed},
		{name: "truncated-head", in: "HTTP/1.1 200 OK\r\nContent-Le", kind: kindClosed, errHas: "in the middle"},
		{name: "truncated-body", in: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", kind: kindClosed, errHas: "got 5 of 9 bytes"},
		{name: "http09-body", in: "<html>hello</html>\r\n", kind: kindMalformed, errHas: "status line"},
		{name: "http09-unterminated", in: "hello", kind: kindMalformed, errHas: "HTTP/0.9"},
		{name: "truncated-status", in: "HTTP/1.1 200", kind: kindClosed, errHas: "in the middle"},
		{name: "truncated-version", in: "HT", kind: kindClosed, errHas: "in the middle"},
		{name: "bare-lf", in: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", kind: kindMalformed, errHas: "bare LF"},
		{name: "bare-cr", in: "HTTP/1.1 200 OK\r\nServer: a\rb\r\n\r\n", kind: kindMalformed, errHas: "bare CR"},
		{name: "http2-version", in: "HTTP/2 200 OK\r\n\r\n", kind: kindMalformed, errHas: "version"},
		{name: "short-status", in: "HTTP/1.1 20 OK\r\n\r\n", kind: kindMalformed},
		{name: "status-out-of-range", in: "HTTP/1.1 700 Odd\r\n\r\n", kind: kindMalformed, errHas: "out of range"},
		{name: "no-colon", in: "HTTP/1.1 200 OK\r\nServer\r\n\r\n", kind: kindMalformed, errHas: "without a colon"},
		{name: "space-in-name", in: "HTTP/1.1 200 OK\r\nServer : x\r\n\r\n", kind: kindMalformed, errHas: "invalid header name"},
		{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nServer: x\r\n y\r\n\r\n", kind: kindMalformed, errHas: "folding"},
		{name: "control-in-value", in: "HTTP/1.1 200 OK\r\nServer: a\x01\r\n\r\n", kind: kindMalformed, errHas: "control character"},
		{name: "length-conflict", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", kind: kindMalformed, errHas: "conflicting"},
		{name: "length-negative", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", kind: kindMalformed, errHas: "invalid Content-Length"},
		{name: "length-huge", in: "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n", kind: kindMalformed, errHas: "larger than"},
		{name: "te-and-cl", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", kind: kindMalformed, errHas: "both"},
		{name: "bad-chunk-size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", kind: kindMalformed, errHas: "chunk size"},
		{name: "chunk-overrun", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", kind: kindMalformed, errHas: "longer than its size"},
		{name: "huge-head", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHead) + "\r\n\r\n", kind: kindMalformed, errHas: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: framing must not depend on how the bytes arrive.
			br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.in)), 16)
			r, _, err := readResponse(br)
			if tc.kind != "" {
				var re *readError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v (response %+v), want a %s readError", err, r, tc.kind)
				}
				if re.kind != tc.kind || !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("err = %q (kind %q), want kind %q mentioning %q", err, re.kind, tc.kind, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want status %d", err, tc.status)
			}
			if r.status != tc.status || string(r.body) != tc.body || r.untilClose != tc.untilClose {
				t.Errorf("got status %d body %q untilClose %v, want %d %q %v", r.status, r.body, r.untilClose, tc.status, tc.body, tc.untilClose)
			}
		})
	}
}

// Whatever a server sends, the reader returns a response or an error; it
// never panics and never reads past its limits.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad\r\n\r\nbody",
		"HTTP/1.0 204 \r\nX: y\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, _, err := readResponse(bufio.NewReader(strings.NewReader(string(in))))
		if err == nil && (r.status < 100 || r.status > 599 || len(r.body) > maxResponseBody) {
			t.Fatalf("accepted status %d with %d body bytes", r.status, len(r.body))
		}
		if err != nil {
			var re *readError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a readError", err)
			}
		}
	})
}

func TestQuoteTrunc(t *testing.T) {
	if got := quoteTrunc([]byte("a\r\n"), 10); got != `"a\r\n"` {
		t.Errorf("quoteTrunc short = %s", got)
	}
	if got := quoteTrunc([]byte(strings.Repeat("x", 20)), 4); got != `"xxxx"…(20 bytes)` {
		t.Errorf("quoteTrunc long = %s", got)
	}
}
