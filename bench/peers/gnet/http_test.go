package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/bench/peers/page"
)

var testDate = []byte("Mon, 01 Jan 2025 00:00:00 GMT")

const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

func TestRespond(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		used      int
		statuses  []string // status lines of the responses, in order
		closeConn bool
	}{
		{"one request", get, len(get), []string{"200"}, false},
		{"three pipelined", get + get + get, 3 * len(get), []string{"200", "200", "200"}, false},
		{"one and a half", get + get[:10], len(get), []string{"200"}, false},
		{"incomplete head", get[:len(get)-1], 0, nil, false},
		{"head request", "HEAD / HTTP/1.1\r\n\r\n", 19, []string{"200"}, false},
		{"not found keeps the connection", "GET /x HTTP/1.1\r\n\r\n" + get, 19 + len(get), []string{"404", "200"}, false},
		{"connection close stops the pipeline", "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n" + get, 37, []string{"200"}, true},
		{"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", 18, []string{"200"}, true},
		{"HTTP/1.0 keep-alive stays", "GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", 42, []string{"200"}, false},
		{"post is refused", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 38, []string{"405"}, true},
		{"get with a body is refused", "GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 37, []string{"400"}, true},
		{"malformed request line", "GET/HTTP/1.1\r\n\r\n", 16, []string{"400"}, true},
		{"oversized head", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHead) + "\r\n", 19 + maxHead + 2, []string{"431"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			used, out, closeConn := respond(nil, []byte(c.in), testDate)
			if used != c.used || closeConn != c.closeConn {
				t.Fatalf("used %d, close %v; want %d, %v", used, closeConn, c.used, c.closeConn)
			}
			got := statuses(t, out)
			if strings.Join(got, ",") != strings.Join(c.statuses, ",") {
				t.Fatalf("statuses %v, want %v\n%s", got, c.statuses, out)
			}
		})
	}
}

// statuses splits a stream of responses and returns their status codes,
// checking that each 200 carries the page and a matching Content-Length.
func statuses(t *testing.T, out []byte) []string {
	t.Helper()
	var codes []string
	for len(out) > 0 {
		end := bytes.Index(out, crlfcrlf)
		if end < 0 {
			t.Fatalf("truncated response %q", out)
		}
		head := string(out[:end])
		out = out[end+4:]
		code := strings.Fields(head)[1]
		codes = append(codes, code)
		if !strings.Contains(head, "\r\nDate: "+string(testDate)) {
			t.Fatalf("no Date header in %q", head)
		}
		if code == "200" && !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\nServer: gnet\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 379\r\n") {
			t.Fatalf("unexpected 200 head %q", head)
		}
		if code == "200" && bytes.HasPrefix(out, page.Body) {
			out = out[len(page.Body):]
		}
	}
	return codes
}

func TestRespondAcrossEverySplit(t *testing.T) {
	// Feed two pipelined requests the way a slow client might deliver them:
	// cut anywhere, the answers must come out the same as in one piece.
	stream := []byte(get + "GET / HTTP/1.1\r\nHost: y\r\n\r\n")
	_, want, _ := respond(nil, stream, testDate)
	for cut := 1; cut < len(stream); cut++ {
		buf := append([]byte(nil), stream[:cut]...)
		used, out, _ := respond(nil, buf, testDate)
		buf = append(buf[used:], stream[cut:]...)
		_, more, _ := respond(nil, buf, testDate)
		if got := append(out, more...); !bytes.Equal(got, want) {
			t.Fatalf("split at %d: got %q, want %q", cut, got, want)
		}
	}
}

func TestRespondDoesNotAllocate(t *testing.T) {
	in := []byte(get + get)
	out := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		_, out, _ = respond(out[:0], in, testDate)
	})
	if allocs != 0 {
		t.Fatalf("respond allocates %.1f times per call", allocs)
	}
}
