package verify

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaws are the bugs a rawServer can be given, one per verify case that
// must catch it. The zero value is a plain, mostly correct server.
type flaws struct {
	// cachedDate: the Date header is computed once, at start-up.
	cachedDate bool
	// ignoreClose: Connection: close and HTTP/1.0 do not end the
	// connection.
	ignoreClose bool
	// dropPipelined: only the first request of each read is answered; the
	// rest of what was read is thrown away.
	dropPipelined bool
	// reorderPipelined: of requests that arrive together, the quick ones
	// (errors) are answered at once and the pages when the batch is done,
	// the way handlers run concurrently and written as they finish would.
	reorderPipelined bool
	// lengthDelta is added to the true Content-Length of 200 responses.
	lengthDelta int
	// hangOnMalformed: a request that does not parse gets no answer and
	// the connection stays open.
	hangOnMalformed bool
	// keepLeftovers: what a client sent after its last whole request is
	// kept and read before the next connection's bytes, the way a worker
	// that keeps its buffer across connections would.
	keepLeftovers bool
	// bareCREndsHead: a header line that starts with a CR ends the head,
	// as "\r\n\r" and the byte after it do for http-parser built lenient
	// (httptools, issue #19).
	bareCREndsHead bool
}

// rawServer is a small HTTP/1.1 server on a raw net.Listener with
// deliberate flaws, for the cases that must catch them.
type rawServer struct {
	ln    net.Listener
	flaws flaws
	start time.Time

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	// carry is keepLeftovers' shared buffer.
	carry []byte
}

// recorder keeps every byte read through it.
type recorder struct {
	r    io.Reader
	data []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.data = append(r.data, p[:n]...)
	return n, err
}

func startRaw(t *testing.T, f flaws) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, flaws: f, start: time.Now(), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return "http://" + ln.Addr().String() + "/"
}

func (s *rawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// close stops the listener and every connection, then waits for all the
// server's goroutines, so no test leaks one into the next.
func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// rawRequest is the little the test server needs to know of a request.
type rawRequest struct {
	method, path string
	keepAlive    bool
}

// errMalformed marks a request the server could not parse.
var errMalformed = fmt.Errorf("malformed request")

// readRequest reads one request head and its Content-Length body.
func readRequest(br *bufio.Reader, bareCREndsHead bool) (rawRequest, error) {
	var req rawRequest
	line, err := readCRLF(br)
	if err != nil {
		return req, err
	}
	if strings.Contains(line, "\r") {
		return req, errMalformed
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0") {
		return req, errMalformed
	}
	req.method, req.path = parts[0], parts[1]
	req.keepAlive = parts[2] == "HTTP/1.1"
	length := 0
	for n := 0; ; n++ {
		line, err := readCRLF(br)
		if err != nil {
			return req, err
		}
		if line == "" || (bareCREndsHead && line[0] == '\r') {
			break
		}
		if strings.Contains(line, "\r") {
			return req, errMalformed // RFC 9112 §2.2: a bare CR
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || n > 100 || strings.ContainsAny(name, " \t") {
			return req, errMalformed
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "connection":
			req.keepAlive = !strings.EqualFold(value, "close")
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil || length < 0 {
				return req, errMalformed
			}
		}
	}
	if _, err := br.Discard(length); err != nil {
		return req, err
	}
	return req, nil
}

// readCRLF reads a line of at most 8 KiB ending in CRLF.
func readCRLF(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return "", errMalformed
		}
		return "", err
	}
	if !strings.HasSuffix(string(line), "\r\n") {
		return "", errMalformed
	}
	return strings.TrimSuffix(string(line), "\r\n"), nil
}

func (s *rawServer) serve(c net.Conn) {
	s.mu.Lock()
	carried := s.carry
	s.carry = nil
	s.mu.Unlock()
	rec := &recorder{r: io.MultiReader(bytes.NewReader(carried), c)}
	br := bufio.NewReaderSize(rec, 8<<10)
	boundary := 0 // where in rec.data the last whole request ended
	defer func() {
		if s.flaws.keepLeftovers {
			s.mu.Lock()
			s.carry = rec.data[boundary:]
			s.mu.Unlock()
		}
	}()
	var held [][]byte // reorderPipelined: pages waiting for the batch to end
	for {
		req, err := readRequest(br, s.flaws.bareCREndsHead)
		if err == errMalformed {
			if s.flaws.hangOnMalformed {
				io.Copy(io.Discard, c)
				return
			}
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			return
		}
		if err != nil {
			return
		}
		boundary = len(rec.data) - br.Buffered()
		resp := s.respond(req)
		switch {
		case !s.flaws.reorderPipelined:
			c.Write(resp)
		case strings.HasPrefix(string(resp), "HTTP/1.1 200"):
			held = append(held, resp)
		default:
			c.Write(resp)
		}
		if s.flaws.reorderPipelined && br.Buffered() == 0 {
			for _, r := range held {
				c.Write(r)
			}
			held = held[:0]
		}
		if s.flaws.dropPipelined {
			br.Discard(br.Buffered())
		}
		if !req.keepAlive && !s.flaws.ignoreClose {
			return
		}
	}
}

func (s *rawServer) respond(req rawRequest) []byte {
	status, body := "200 OK", page
	switch {
	case req.path != "/":
		status, body = "404 Not Found", "not found\n"
	case req.method != "GET":
		status, body = "405 Method Not Allowed", "method not allowed\n"
	}
	date := time.Now()
	if s.flaws.cachedDate {
		date = s.start
	}
	length := len(body)
	if status == "200 OK" {
		length += s.flaws.lengthDelta
	}
	return fmt.Appendf(nil, "HTTP/1.1 %s\r\nServer: raw-test\r\nDate: %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s",
		status, date.UTC().Format(http.TimeFormat), length, body)
}

// malformedNames are the cases that send a request the test server's parser
// rejects (it accepts obs-fold, control bytes and TE+CL, and reads the
// no-Host request, so those are left out).
var malformedNames = []string{
	"bad-request-line-no-space", "bad-request-line-no-version", "bad-request-line-extra-token",
	"bad-version", "space-before-colon", "content-length-invalid", "content-length-negative",
	"oversized-head", "bare-cr", "bare-cr-between-lines", "bare-lf",
}

// wellFormed are the cases a rawServer with no flaws passes.
var wellFormed = []string{
	"get", "date-advances", "keep-alive", "pipelined", "connection-close", "http10",
	"not-found", "method-not-allowed", "fragmented", "split-head", "no-leftovers",
}

// checkCases asserts which of the named cases fail and that the rest of
// them pass, printing what was exchanged when one does not behave.
func checkCases(t *testing.T, rep Report, mustFail, mustPass []string, reasonHas string) {
	t.Helper()
	for _, name := range mustFail {
		r := result(t, rep, name)
		if r.Pass {
			t.Errorf("%s passed, want it to fail: sent %s, got %s", name, r.Sent, r.Got)
			continue
		}
		if !strings.Contains(r.Reason, reasonHas) {
			t.Errorf("%s failed with reason %q, want it to mention %q (got %s)", name, r.Reason, reasonHas, r.Got)
		}
	}
	for _, name := range mustPass {
		if r := result(t, rep, name); !r.Pass {
			t.Errorf("%s failed, want it to pass: sent %s, got %s: %s", name, r.Sent, r.Got, r.Reason)
		}
	}
}

// without returns names minus drop.
func without(names []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(drop, n) })
}

// A flawless raw server is the control for every test below: the cases
// each flaw must break pass without it.
func TestRawServerControl(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{}), Options{Timeout: time.Second, ExpectBodyContains: []string{"hello"}})
	checkCases(t, rep, nil, append(slices.Clone(wellFormed), malformedNames...), "")
}

func TestCachedDateFailsDateAdvances(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{cachedDate: true}), Options{Timeout: time.Second})
	checkCases(t, rep, []string{"date-advances"}, without(wellFormed, "date-advances"), "did not advance")
}

func TestIgnoringCloseFailsWithinTimeout(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{ignoreClose: true}), Options{Timeout: 300 * time.Millisecond})
	checkCases(t, rep, []string{"connection-close", "http10"}, without(wellFormed, "connection-close", "http10"), "did not close")
	if got := result(t, rep, "connection-close").Got; !strings.Contains(got, "still open at timeout") {
		t.Errorf("connection-close Got = %q, want it to say the connection was still open", got)
	}
}

func TestDroppedPipelinedRequestFailsPipelined(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{dropPipelined: true}), Options{Timeout: 300 * time.Millisecond})
	checkCases(t, rep, []string{"pipelined"}, without(wellFormed, "pipelined"), "response 2 of 3: timeout")
}

func TestReorderedPipelinedResponsesFailPipelined(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{reorderPipelined: true}), Options{Timeout: time.Second})
	// The 404 for the second request arrives first.
	checkCases(t, rep, []string{"pipelined"}, without(wellFormed, "pipelined"), "response 1 of 3 has status 404")
}

func TestContentLengthTooLargeFailsGet(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{lengthDelta: 7}), Options{Timeout: 300 * time.Millisecond})
	checkCases(t, rep, []string{"get"}, []string{"not-found", "method-not-allowed"}, "timeout in the middle of a response")
	if got := result(t, rep, "get").Got; !strings.Contains(got, fmt.Sprintf("got %d of %d bytes", len(page), len(page)+7)) {
		t.Errorf("get Got = %q, want it to say how much of the body came", got)
	}
}

func TestContentLengthTooSmallFailsGet(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{lengthDelta: -5}), Options{Timeout: time.Second})
	checkCases(t, rep, []string{"get"}, []string{"not-found", "method-not-allowed"}, "5 more bytes followed")
}

func TestKeptLeftoversFailNoLeftovers(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{keepLeftovers: true}), Options{Timeout: time.Second, Parallel: 1})
	checkCases(t, rep, []string{"no-leftovers"}, nil, "previous client's bytes")
}

// Issue #19: httptools ended a head at a bare CR between header lines
// and answered 200, and verify's bare-CR case, which puts the CR inside
// a value, passed it.
func TestBareCREndingHeadFailsBareCRBetweenLines(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{bareCREndsHead: true}), Options{Timeout: time.Second})
	checkCases(t, rep, []string{"bare-cr-between-lines"}, without(malformedNames, "bare-cr-between-lines"), "status 200, want 400")
}

func TestHangOnMalformedFailsWithTimeout(t *testing.T) {
	t.Parallel()
	rep := run(t, startRaw(t, flaws{hangOnMalformed: true}), Options{Timeout: 300 * time.Millisecond})
	checkCases(t, rep, malformedNames, wellFormed, "timeout")
}
