package http1

import (
	"bufio"
	"bytes"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func newConn(t testing.TB, h servers.Handler, b servers.Body) (*Conn, *Counters) {
	t.Helper()
	p, err := NewPage("sockbench-test", servers.Options{Handler: h, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	var ctr Counters
	var c Conn
	c.Reset(p, &ctr, loopback)
	return &c, &ctr
}

// readResponses parses out with net/http's client-side reader: an
// independent check that what we write is valid HTTP/1.1.
func readResponses(t *testing.T, out []byte) []*http.Response {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	var rs []*http.Response
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return rs
		}
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d unreadable: %v\n%q", len(rs), err, out)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(rs), err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rs = append(rs, r)
	}
}

func TestServePipelinedInOrder(t *testing.T) {
	c, ctr := newConn(t, servers.HandlerTemplate, servers.BodySmall)
	in := "GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n" +
		"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	n, out, closeAfter := c.Serve([]byte(in), nil)
	if n != len(in) || closeAfter {
		t.Fatalf("consumed %d of %d, close %v", n, len(in), closeAfter)
	}
	rs := readResponses(t, out)
	want := []int{200, 404, 405, 200}
	if len(rs) != len(want) {
		t.Fatalf("%d responses, want %d", len(rs), len(want))
	}
	for i, r := range rs {
		if r.StatusCode != want[i] {
			t.Errorf("response %d: %d, want %d", i, r.StatusCode, want[i])
		}
		if r.Header.Get("Date") == "" || r.Header.Get("Server") == "" || r.Header.Get("Content-Type") == "" {
			t.Errorf("response %d lacks Date/Server/Content-Type: %v", i, r.Header)
		}
	}
	if rs[2].Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 without Allow: %v", rs[2].Header)
	}
	if ctr.Requests != 4 || ctr.Errors != 2 {
		t.Fatalf("counters %+v, want 4 requests 2 errors", *ctr)
	}
}

func TestServeHead(t *testing.T) {
	c, _ := newConn(t, servers.HandlerTemplate, servers.BodySmall)
	in := "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
	_, out, _ := c.Serve([]byte(in), nil)
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 || r.ContentLength != 379 || !bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		t.Fatalf("HEAD: status %d, length %d, response %q", r.StatusCode, r.ContentLength, out)
	}
}

// Feeding a pipelined stream one byte at a time, and at every split point
// in two pieces, must produce exactly the responses of feeding it whole.
func TestServeSplitAtEveryByte(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	statuses := func(out []byte) []int {
		var s []int
		for _, r := range readResponses(t, out) {
			s = append(s, r.StatusCode)
		}
		return s
	}
	c, _ := newConn(t, servers.HandlerStatic, servers.BodySmall)
	_, whole, _ := c.Serve(in, nil)
	want := statuses(whole)
	if len(want) != 3 || want[1] != 405 {
		t.Fatalf("whole stream gave %v", want)
	}
	feed := func(chunks [][]byte) []byte {
		c, _ := newConn(t, servers.HandlerStatic, servers.BodySmall)
		var buf, out []byte
		for _, ch := range chunks {
			buf = append(buf, ch...)
			n, o, closeAfter := c.Serve(buf, out)
			out = o
			if closeAfter {
				t.Fatalf("unexpected close")
			}
			buf = append(buf[:0], buf[n:]...)
		}
		if len(buf) != 0 {
			t.Fatalf("%d bytes left unconsumed", len(buf))
		}
		return out
	}
	var single [][]byte
	for i := range in {
		single = append(single, in[i:i+1])
	}
	if got := statuses(feed(single)); !equalInts(got, want) {
		t.Fatalf("byte at a time: %v, want %v", got, want)
	}
	for i := 1; i < len(in); i++ {
		if got := statuses(feed([][]byte{in[:i], in[i:]})); !equalInts(got, want) {
			t.Fatalf("split at %d: %v, want %v", i, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServeClosing(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		status int
	}{
		{"connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"http 1.0", "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n", 200},
		{"malformed", "GET/ HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"oversized", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("y", MaxHeadBytes), 431},
		{"oversized request line", "GET /" + strings.Repeat("y", MaxHeadBytes), 414},
		{"unsupported version", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newConn(t, servers.HandlerTemplate, servers.BodySmall)
			_, out, closeAfter := c.Serve([]byte(tc.in), nil)
			if !closeAfter {
				t.Fatal("connection not marked for close")
			}
			rs := readResponses(t, out)
			if len(rs) != 1 {
				t.Fatalf("%d responses, want exactly 1 (nothing after the closing request)", len(rs))
			}
			if rs[0].StatusCode != tc.status {
				t.Fatalf("status %d, want %d", rs[0].StatusCode, tc.status)
			}
			if tc.status != 200 && !rs[0].Close {
				t.Fatal("error response without Connection: close")
			}
		})
	}
}

func TestServeHTTP10KeepAlive(t *testing.T) {
	c, _ := newConn(t, servers.HandlerTemplate, servers.BodySmall)
	in := "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	_, out, closeAfter := c.Serve([]byte(in), nil)
	if closeAfter || !bytes.Contains(out, []byte("\r\nConnection: keep-alive\r\n")) {
		t.Fatalf("1.0 keep-alive not honoured (close=%v): %q", closeAfter, out)
	}
}

// A client pipelining far more than fits in one output budget gets its
// answers over several calls, never an output buffer that grows with it.
func TestServeOutputBudget(t *testing.T) {
	c, _ := newConn(t, servers.HandlerStatic, servers.BodyLarge)
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	in := []byte(strings.Repeat(req, 200))
	total := 0
	for calls := 0; len(in) > 0; calls++ {
		if calls > 100 {
			t.Fatal("no progress")
		}
		n, out, _ := c.Serve(in, nil)
		if len(out) > OutputBudget+4096 {
			t.Fatalf("one call produced %d bytes", len(out))
		}
		total += len(readResponses(t, out))
		in = in[n:]
	}
	if total != 200 {
		t.Fatalf("%d responses for 200 requests", total)
	}
}

func TestPageSizes(t *testing.T) {
	for _, tc := range []struct {
		body servers.Body
		size int
	}{{servers.BodySmall, 379}, {servers.BodyLarge, 3044}} {
		for _, h := range servers.Handlers {
			c, _ := newConn(t, h, tc.body)
			_, out, _ := c.Serve([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), nil)
			r := readResponses(t, out)[0]
			body, _ := io.ReadAll(r.Body)
			if len(body) != tc.size || r.Header.Get("Content-Length") != strconv.Itoa(tc.size) {
				t.Errorf("%s/%s: body %d bytes, Content-Length %s, want %d", h, tc.body, len(body), r.Header.Get("Content-Length"), tc.size)
			}
		}
	}
}

// The compiled template must render exactly what html/template renders.
func TestCompiledTemplateMatchesHTMLTemplate(t *testing.T) {
	for _, b := range []servers.Body{servers.BodySmall, servers.BodyLarge} {
		p, err := NewPage("x", servers.Options{Handler: servers.HandlerTemplate, Body: b})
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range []string{"127.0.0.1", "::1", "2001:db8::42"} {
			now := []byte(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format("2006-01-02 15:04:05 UTC"))
			var want bytes.Buffer
			tmpl := template.Must(template.New("p").Parse(PageSource(b)))
			if err := tmpl.Execute(&want, PageData{ClientIP: ip, Time: string(now)}); err != nil {
				t.Fatal(err)
			}
			got := p.render(nil, []byte(ip), now)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s %s: compiled render differs from html/template", b, ip)
			}
			if p.renderedLen([]byte(ip), now) != len(got) {
				t.Fatalf("renderedLen %d, rendered %d", p.renderedLen([]byte(ip), now), len(got))
			}
			re, err := p.reparse([]byte(ip), now)
			if err != nil || !bytes.Equal(re, got) {
				t.Fatalf("reparse handler differs: %v", err)
			}
		}
	}
}

func TestTemplateShowsClientIP(t *testing.T) {
	p, _ := NewPage("x", servers.Options{Handler: servers.HandlerTemplate, Body: servers.BodySmall})
	var c Conn
	c.Reset(p, &Counters{}, netip.MustParseAddr("::ffff:10.1.2.3"))
	_, out, _ := c.Serve([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), nil)
	if !bytes.Contains(out, []byte("Your address is 10.1.2.3.")) {
		t.Fatalf("client IP (v4-mapped) not on the page:\n%s", out)
	}
}

func TestCompileRejectsUnsupported(t *testing.T) {
	for _, src := range []string{"{{if .Time}}x{{end}}", "{{.Other}}", "{{printf \"%s\" .Time}}", "{{"} {
		if _, err := compile(src); err == nil {
			t.Errorf("compile(%q) accepted", src)
		}
	}
}

// The request path of the static and template handlers allocates nothing
// (fasthttp's discipline): parse, route, render into a reused buffer.
func TestServeAllocations(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	for _, h := range []servers.Handler{servers.HandlerStatic, servers.HandlerTemplate} {
		c, _ := newConn(t, h, servers.BodySmall)
		out := make([]byte, 0, 4096)
		allocs := testing.AllocsPerRun(1000, func() {
			_, out, _ = c.Serve(in, out[:0])
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per request, want 0", h, allocs)
		}
	}
}

func BenchmarkServe(b *testing.B) {
	in := []byte("GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	for _, h := range servers.Handlers {
		b.Run(string(h), func(b *testing.B) {
			c, _ := newConn(b, h, servers.BodySmall)
			out := make([]byte, 0, 4096)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, out, _ = c.Serve(in, out[:0])
			}
		})
	}
}

// close_after_response: the first answer ends the connection, without a
// Connection: close, and what was pipelined behind it is left unread, so
// the close lingers.
func TestServeCloseAfterResponse(t *testing.T) {
	p, err := NewPage("sockbench-test", servers.Options{Handler: servers.HandlerTemplate, Body: servers.BodySmall, CloseAfterResponse: true})
	if err != nil {
		t.Fatal(err)
	}
	var ctr Counters
	var c Conn
	c.Reset(p, &ctr, loopback)
	first := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	in := first + "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	consumed, out, closeAfter := c.Serve([]byte(in), nil)
	rs := readResponses(t, out)
	switch {
	case !closeAfter || consumed != len(first) || len(rs) != 1 || ctr.Requests != 1:
		t.Fatalf("closeAfter %v, consumed %d of %d, %d answers, %d requests; want one answer, then close", closeAfter, consumed, len(in), len(rs), ctr.Requests)
	case rs[0].StatusCode != 200 || rs[0].Header.Get("Connection") != "" || rs[0].Close:
		t.Fatalf("answer %d, Connection %q: want 200, unannounced close", rs[0].StatusCode, rs[0].Header.Get("Connection"))
	case !c.MustLinger(len(in) - consumed):
		t.Fatal("a close with a pipelined request unread must linger")
	}
}
