package verify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// testCase is one check: a name users type, the extra time it spends
// waiting on purpose, and the exchange itself, which returns why the server
// failed or nil.
type testCase struct {
	name  string
	extra time.Duration
	// first dispatches the case before the others: it spends its time
	// waiting on purpose, so it should start at once and take its lane out
	// of the run's critical path while the rest share the other lanes.
	first bool
	run   func(s *session) error
}

const (
	// dateGap separates the two requests of date-advances. The Date header
	// has one-second resolution, so 1.1 s guarantees a correct server's two
	// values fall in different seconds.
	dateGap = 1100 * time.Millisecond
	// dateSkew is how far a Date may be from this machine's clock; a
	// server on the same or an NTP-synchronised machine is well within it.
	dateSkew = 5 * time.Second
	// bytePause separates the one-byte writes of fragmented, so each byte
	// arrives as its own segment and the server reads most of them alone.
	bytePause = time.Millisecond
	// splitPause separates the parts of split-head.
	splitPause = 5 * time.Millisecond
	// notFoundPath is a path no benchmarked server serves.
	notFoundPath = "/no-such-path"
	// oversizedField is the length of oversized-head's one header value:
	// far past the head limits of the servers verify gates (8 KiB for
	// sockbench's own and its net/http baseline, 8 KiB a line for nginx).
	oversizedField = 64 << 10
)

// fragmentedRequest is sent one byte per write; its length fixes how long
// fragmented waits on purpose.
const fragmentedRequest = "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"

// cases is every case in report order: the well-formed exchanges first, then
// the malformed requests.
var cases = append([]testCase{
	{name: "get", run: caseGet},
	{name: "date-advances", extra: dateGap, first: true, run: caseDateAdvances},
	{name: "keep-alive", run: caseKeepAlive},
	{name: "pipelined", run: casePipelined},
	{name: "connection-close", run: caseConnectionClose},
	{name: "http10", run: caseHTTP10},
	{name: "not-found", run: caseNotFound},
	{name: "method-not-allowed", run: caseMethodNotAllowed},
	{name: "fragmented", extra: 4 * bytePause * time.Duration(len(fragmentedRequest)+64), run: caseFragmented},
	{name: "split-head", extra: 2 * splitPause, run: caseSplitHead},
	{name: "no-leftovers", run: caseNoLeftovers},
}, malformedCases()...)

// fill puts the target's path and Host into a request template.
func (t target) fill(tmpl string) []byte {
	return []byte(strings.NewReplacer("{path}", t.path, "{host}", t.host).Replace(tmpl))
}

// request builds a well-formed HTTP/1.1 request head.
func (t target) request(method, path string, fields ...string) []byte {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + t.host + "\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// exchange opens a connection, sends req in one write and reads one response.
func (s *session) exchange(req []byte) (*response, error) {
	if err := s.dial(); err != nil {
		return nil, err
	}
	if err := s.send(req); err != nil {
		return nil, err
	}
	r, err := s.response()
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	return r, nil
}

// wantStatus fails unless r has the status want.
func wantStatus(r *response, want int, what string) error {
	if r.status != want {
		return fmt.Errorf("status %d for %s, want %d", r.status, what, want)
	}
	return nil
}

func caseGet(s *session) error {
	r, err := s.exchange(s.t.request("GET", s.t.path))
	if err != nil {
		return err
	}
	received := time.Now()
	if err := wantStatus(r, 200, "GET "+s.t.path); err != nil {
		return err
	}
	var problems []string
	if v, ok := r.field("Server"); !ok || v == "" {
		problems = append(problems, "no Server header")
	}
	if v, ok := r.field("Date"); !ok {
		// RFC 9110 §6.6.1: an origin server with a clock MUST send Date.
		problems = append(problems, "no Date header")
	} else if _, err := checkDate(v, received); err != nil {
		problems = append(problems, err.Error())
	}
	if _, ok := r.field("Content-Type"); !ok {
		problems = append(problems, "no Content-Type header")
	}
	if _, ok := r.field("Content-Length"); !ok {
		problems = append(problems, "no Content-Length header")
	}
	if len(r.body) == 0 {
		problems = append(problems, "empty body")
	}
	for _, want := range s.t.expectBody {
		if !strings.Contains(string(r.body), want) {
			problems = append(problems, fmt.Sprintf("body does not contain %q", want))
		}
	}
	// A Content-Length smaller than the body leaves the rest on the wire,
	// where it would be taken for the start of the next response.
	state, n, err := s.idle()
	if err != nil {
		return err
	}
	if state == idleBytes {
		problems = append(problems, fmt.Sprintf("%d more bytes followed the %d the Content-Length announced", n, len(r.body)))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkDate parses a Date value, which must be an IMF-fixdate (RFC 9110
// §5.6.7) close to now.
func checkDate(v string, now time.Time) (time.Time, error) {
	d, err := time.Parse(http.TimeFormat, v)
	if err != nil {
		return d, fmt.Errorf("Date %q is not an IMF-fixdate like %q", v, http.TimeFormat)
	}
	// time.Parse does not check the day name against the date.
	if d.Format(http.TimeFormat) != v {
		return d, fmt.Errorf("Date %q is not a correct IMF-fixdate (day name does not match)", v)
	}
	if off := d.Sub(now); off > dateSkew || off < -dateSkew {
		return d, fmt.Errorf("Date %q is %s off this machine's clock", v, off.Round(time.Second))
	}
	return d, nil
}

func caseDateAdvances(s *session) error {
	get := s.t.request("GET", s.t.path)
	r1, err := s.exchange(get)
	if err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	d1, err := pageDate(r1)
	if err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	if err := s.pause(dateGap); err != nil {
		return err
	}
	// keep-alive judges persistence; here a server that closed only costs
	// a new connection.
	if s.closed || r1.hasToken("Connection", "close") {
		if err := s.dial(); err != nil {
			return err
		}
	} else {
		s.markPause(dateGap)
	}
	if err := s.send(get); err != nil {
		return fmt.Errorf("second request: %w", err)
	}
	r2, err := s.response()
	if err != nil {
		return fmt.Errorf("second request: %w", err)
	}
	d2, err := pageDate(r2)
	if err != nil {
		return fmt.Errorf("second request: %w", err)
	}
	if !d2.After(d1) {
		v1, _ := r1.field("Date")
		v2, _ := r2.field("Date")
		return fmt.Errorf("Date did not advance over %s: %q then %q (computed once, or cached too long)", dateGap, v1, v2)
	}
	return nil
}

// pageDate checks a 200 response and returns its Date.
func pageDate(r *response) (time.Time, error) {
	if r.status != 200 {
		return time.Time{}, fmt.Errorf("status %d, want 200", r.status)
	}
	v, ok := r.field("Date")
	if !ok {
		return time.Time{}, errors.New("no Date header")
	}
	return checkDate(v, time.Now())
}

func caseKeepAlive(s *session) error {
	if err := s.dial(); err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		if err := s.send(s.t.request("GET", s.t.path)); err != nil {
			return fmt.Errorf("request %d of 2: %w", i, err)
		}
		r, err := s.response()
		if err != nil {
			return fmt.Errorf("request %d of 2: %w", i, err)
		}
		if err := wantStatus(r, 200, fmt.Sprintf("request %d of 2", i)); err != nil {
			return err
		}
		if r.hasToken("Connection", "close") {
			return fmt.Errorf("request %d of 2 was answered with Connection: close; HTTP/1.1 connections persist by default (RFC 9112 §9.3)", i)
		}
	}
	state, n, err := s.idle()
	switch {
	case err != nil:
		return err
	case state == idleClosed:
		return errors.New("the server closed the connection after the second response; HTTP/1.1 connections persist by default (RFC 9112 §9.3)")
	case state == idleBytes:
		return fmt.Errorf("%d unexpected bytes after the second response", n)
	}
	return nil
}

func casePipelined(s *session) error {
	var reqs []byte
	reqs = append(reqs, s.t.request("GET", s.t.path)...)
	reqs = append(reqs, s.t.request("GET", notFoundPath)...)
	reqs = append(reqs, s.t.request("GET", s.t.path)...)
	if err := s.dial(); err != nil {
		return err
	}
	if err := s.send(reqs); err != nil {
		return err
	}
	for i, want := range []int{200, 404, 200} {
		r, err := s.response()
		if err != nil {
			return fmt.Errorf("response %d of 3: %w", i+1, err)
		}
		if r.status != want {
			return fmt.Errorf("response %d of 3 has status %d, want %d: responses must come in request order (RFC 9112 §9.3.2)", i+1, r.status, want)
		}
	}
	state, n, err := s.idle()
	if err != nil {
		return err
	}
	if state == idleBytes {
		return fmt.Errorf("%d unexpected bytes after the third response", n)
	}
	return nil
}

func caseConnectionClose(s *session) error {
	r, err := s.exchange(s.t.request("GET", s.t.path, "Connection: close"))
	if err != nil {
		return err
	}
	if err := wantStatus(r, 200, "GET with Connection: close"); err != nil {
		return err
	}
	return s.expectClosed("after answering a request with Connection: close (RFC 9112 §9.6)")
}

// leftoverRounds is how many half requests no-leftovers abandons: a server
// that reuses buffers across connections (a worker pool, a loop's slot per
// descriptor) hands the next client the abandoned bytes on any of them.
const leftoverRounds = 4

// caseNoLeftovers abandons a half request (the client half-closes and
// waits for the server to close), then sends a clean request on a new
// connection: its answer must be the page, not something parsed from the
// previous client's bytes.
func caseNoLeftovers(s *session) error {
	const abandoned = "GET /left-by-the-previous-client HTTP/1.1\r\nX-Pad: "
	for range leftoverRounds {
		if err := s.dial(); err != nil {
			return err
		}
		if err := s.send([]byte(abandoned)); err != nil {
			return err
		}
		if err := s.abandon(); err != nil {
			return err
		}
		r, err := s.exchange(s.t.request("GET", s.t.path))
		if err != nil {
			return err
		}
		if err := wantStatus(r, 200, "GET "+s.t.path+" on a new connection after another client left half a request"); err != nil {
			return fmt.Errorf("%w: the server answered the new connection with the previous client's bytes", err)
		}
	}
	return nil
}

func caseHTTP10(s *session) error {
	r, err := s.exchange(s.t.fill("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n"))
	if err != nil {
		return err
	}
	if err := wantStatus(r, 200, "an HTTP/1.0 GET"); err != nil {
		return err
	}
	return s.expectClosed("after answering HTTP/1.0 without keep-alive (RFC 9112 §9.3)")
}

func caseNotFound(s *session) error {
	r, err := s.exchange(s.t.request("GET", notFoundPath))
	if err != nil {
		return err
	}
	return wantStatus(r, 404, "GET "+notFoundPath)
}

func caseMethodNotAllowed(s *session) error {
	for _, req := range [][]byte{
		s.t.request("POST", s.t.path, "Content-Length: 0"),
		s.t.request("DELETE", s.t.path),
	} {
		method, _, _ := strings.Cut(string(req), " ")
		r, err := s.exchange(req)
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if err := wantStatus(r, 405, method+" "+s.t.path); err != nil {
			return err
		}
	}
	return nil
}

func caseFragmented(s *session) error {
	req := s.t.fill(fragmentedRequest)
	parts := make([][]byte, len(req))
	for i := range req {
		parts[i] = req[i : i+1]
	}
	if err := s.dial(); err != nil {
		return err
	}
	if err := s.sendParts(parts, bytePause); err != nil {
		return err
	}
	r, err := s.response()
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	return wantStatus(r, 200, "a GET sent one byte per write")
}

func caseSplitHead(s *session) error {
	req := string(s.t.request("GET", s.t.path, "X-Sockbench: split"))
	cut1 := strings.Index(req, "X-Sockbench: sp") + len("X-Sockbench: sp")
	cut2 := len(req) - 1 // between "\r\n\r" and the final "\n"
	parts := [][]byte{[]byte(req[:cut1]), []byte(req[cut1:cut2]), []byte(req[cut2:])}
	if err := s.dial(); err != nil {
		return err
	}
	if err := s.sendParts(parts, splitPause); err != nil {
		return err
	}
	r, err := s.response()
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	return wantStatus(r, 200, "a GET split inside a header line and inside CRLFCRLF")
}

// serveRule says whether a server may, instead of rejecting a malformed
// request, process it.
type serveRule int

const (
	// mustReject: only a 4xx followed by a close passes.
	mustReject serveRule = iota
	// mayServe: the RFC lets the server repair the request (replace with
	// SP, accept a bare LF), so a 200 passes too.
	mayServe
	// mayServeThenClose: the server may process the request but must close
	// the connection afterwards.
	mayServeThenClose
)

// malformedCase is one request the server must refuse.
type malformedCase struct {
	name string
	// req is the request, with {path} and {host} filled in from the target.
	req string
	// want is the status required; 0 accepts any 4xx.
	want  int
	serve serveRule
	// rule cites what the server violates by accepting, for the Reason.
	rule string
}

func malformedCases() []testCase {
	table := []malformedCase{
		{name: "bad-request-line-no-space", want: 400, rule: "RFC 9112 §3",
			req: "GET{path} HTTP/1.1\r\nHost: {host}\r\n\r\n"},
		{name: "bad-request-line-no-version", want: 400, rule: "RFC 9112 §3",
			req: "GET {path}\r\nHost: {host}\r\n\r\n"},
		{name: "bad-request-line-extra-token", want: 400, rule: "RFC 9112 §3",
			req: "GET {path} HTTP/1.1 x\r\nHost: {host}\r\n\r\n"},
		{name: "bad-version", want: 400, rule: "RFC 9112 §2.3",
			req: "GET {path} HTTP/1.x\r\nHost: {host}\r\n\r\n"},
		{name: "control-char-in-header", want: 400, rule: "RFC 9110 §5.5",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Sockbench: a\x01b\r\n\r\n"},
		{name: "space-before-colon", want: 400, rule: "RFC 9112 §5.1",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Sockbench : x\r\n\r\n"},
		{name: "obs-fold", want: 400, serve: mayServe, rule: "RFC 9112 §5.2",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Sockbench: a\r\n b\r\n\r\n"},
		{name: "content-length-conflict", want: 400, rule: "RFC 9112 §6.3",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{name: "content-length-invalid", want: 400, rule: "RFC 9112 §6.3",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: abc\r\n\r\n"},
		{name: "content-length-negative", want: 400, rule: "RFC 9112 §6.3",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1\r\n\r\n"},
		{name: "te-and-cl", want: 400, serve: mayServeThenClose, rule: "RFC 9112 §6.1",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{name: "missing-host", want: 400, rule: "RFC 9112 §3.2",
			req: "GET {path} HTTP/1.1\r\n\r\n"},
		{name: "oversized-request-line", want: 414, rule: "RFC 9112 §3: a request-line longer than the server will parse is answered 414 (URI Too Long)",
			req: "GET {path}?" + strings.Repeat("a", oversizedField) + " HTTP/1.1\r\nHost: {host}\r\n\r\n"},
		{name: "oversized-head", want: 0, rule: "a bounded request head (431, RFC 6585 §5)",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Sockbench: " + strings.Repeat("a", oversizedField) + "\r\n\r\n"},
		{name: "bare-cr", want: 400, rule: "RFC 9112 §2.2",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Sockbench: a\rb\r\n\r\n"},
		// A lenient parser (http-parser, as httptools builds it) takes
		// "\r\n\r" for the end of the head and the byte after it for its
		// LF: it answers the request, then the rest of the head as
		// another (issue #19).
		{name: "bare-cr-between-lines", want: 400, rule: "RFC 9112 §2.2",
			req: "GET {path} HTTP/1.1\r\nHost: {host}\r\n\rX-Sockbench: y\r\n\r\n"},
		{name: "bare-lf", want: 0, serve: mayServe, rule: "RFC 9112 §2.2",
			req: "GET {path} HTTP/1.1\nHost: {host}\n\n"},
	}
	out := make([]testCase, len(table))
	for i, m := range table {
		out[i] = testCase{name: m.name, run: m.check}
	}
	return out
}

// check sends the malformed request and judges the answer: a 4xx (the
// wanted one) and then the connection closed by the server, within the
// deadline; or, where the rule allows, a normal 200.
func (m malformedCase) check(s *session) error {
	if err := s.dial(); err != nil {
		return err
	}
	// A server may answer and close before it has read the whole request
	// (oversized-head), which can fail the write; the answer still counts.
	if err := s.send(s.t.fill(m.req)); err != nil {
		s.note(err.Error())
	}
	r, err := s.response()
	if err != nil {
		return fmt.Errorf("no valid answer to a malformed request: %w", err)
	}
	switch {
	case r.status == 200 && m.serve == mayServe:
		return nil
	case r.status == 200 && m.serve == mayServeThenClose:
		return s.expectClosed("after processing it (" + m.rule + ": close regardless)")
	case r.status >= 400 && r.status < 500 && (m.want == 0 || r.status == m.want):
		return s.expectClosed("after rejecting a malformed request")
	case m.want == 0:
		return fmt.Errorf("status %d, want a 4xx (%s)", r.status, m.rule)
	default:
		return fmt.Errorf("status %d, want %d (%s)", r.status, m.want, m.rule)
	}
}
