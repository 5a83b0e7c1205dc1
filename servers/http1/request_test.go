package http1

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	long := strings.Repeat("a", MaxHeadBytes)
	cases := []struct {
		name      string
		in        string
		status    int
		keepAlive bool
		cl        int64
	}{
		{"get 1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, true, 0},
		{"get 1.0", "GET / HTTP/1.0\r\n\r\n", 200, false, 0},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 200, true, 0},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, false, 0},
		{"close in list", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, CLOSE\r\n\r\n", 200, false, 0},
		{"higher minor", "GET / HTTP/1.7\r\nHost: x\r\n\r\n", 200, true, 0},
		{"body length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", 200, true, 12},
		{"same length twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 200, true, 3},
		{"ows around value", "GET / HTTP/1.1\r\nHost: \t x \t\r\n\r\n", 200, true, 0},
		{"incomplete line", "GET / HTTP/1.1\r\nHo", 0, false, 0},
		{"incomplete cr", "GET / HTTP/1.1\r", 0, false, 0},
		{"empty", "", 0, false, 0},
		{"no version", "GET /\r\nHost: x\r\n\r\n", 400, false, 0},
		{"no space", "GET/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, 0},
		{"extra token", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400, false, 0},
		{"double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, 0},
		{"bad version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400, false, 0},
		{"http2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, false, 0},
		{"ctl in target", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, 0},
		{"bad method char", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false, 0},
		{"bare lf request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, false, 0},
		{"bare lf header", "GET / HTTP/1.1\r\nHost: x\n\r\n", 400, false, 0},
		{"bare cr", "GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n", 400, false, 0},
		{"bare cr before more", "GET / HTTP/1.1\r\nHost: x\rz", 400, false, 0},
		{"ctl in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, false, 0},
		{"del in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", 400, false, 0},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, false, 0},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, false, 0},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", 400, false, 0},
		{"conflicting length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, false, 0},
		{"invalid length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, false, 0},
		{"negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, false, 0},
		{"huge length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, false, 0},
		{"te and cl", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, false, 0},
		{"te alone", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, false, 0},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400, false, 0},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false, 0},
		{"oversized request line", "GET /" + long, 414, false, 0},
		{"oversized head", "GET / HTTP/1.1\r\nX: " + long, 431, false, 0},
		{"oversized over many lines", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: 0123456789abcdef\r\n", MaxHeadBytes/24+1), 431, false, 0},
		{"long line after others", "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + long[:MaxHeadBytes-30], 431, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Request
			n, st := ParseRequest([]byte(c.in), &r)
			if st != c.status {
				t.Fatalf("status %d, want %d", st, c.status)
			}
			if st != StatusOK {
				if n != 0 {
					t.Fatalf("consumed %d on status %d", n, st)
				}
				return
			}
			if n != len(c.in) {
				t.Fatalf("consumed %d of %d", n, len(c.in))
			}
			if r.KeepAlive != c.keepAlive || r.ContentLength != c.cl {
				t.Fatalf("keepAlive %v cl %d, want %v %d", r.KeepAlive, r.ContentLength, c.keepAlive, c.cl)
			}
		})
	}
}

// A request split at any byte must parse as incomplete until its last byte.
func TestParseRequestEveryPrefix(t *testing.T) {
	full := "GET /?a=b HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\nConnection: keep-alive\r\n\r\n"
	var r Request
	for i := 0; i < len(full); i++ {
		if n, st := ParseRequest([]byte(full[:i]), &r); st != StatusIncomplete || n != 0 {
			t.Fatalf("prefix %d (%q): n=%d status=%d, want incomplete", i, full[:i], n, st)
		}
	}
	if n, st := ParseRequest([]byte(full), &r); st != StatusOK || n != len(full) {
		t.Fatalf("full: n=%d status=%d", n, st)
	}
	if string(r.Method) != "GET" || string(r.Target) != "/?a=b" || r.Minor != 1 {
		t.Fatalf("parsed %q %q 1.%d", r.Method, r.Target, r.Minor)
	}
}

func TestIsRoot(t *testing.T) {
	for target, want := range map[string]bool{
		"/": true, "/?x=1": true, "http://h/": true, "http://h:80/?q": true, "http://h": true,
		"/index.html": false, "//": false, "*": false, "http://h/x": false, "": false,
	} {
		if got := isRoot([]byte(target)); got != want {
			t.Errorf("isRoot(%q) = %v, want %v", target, got, want)
		}
	}
}
